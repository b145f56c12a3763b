# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/13
# class: sabotage
# Freezes its worker with SIGSTOP (and tries SIGKILL on the pool side through pid 1).
import os
import signal

for pid, number in ((os.getppid(), signal.SIGSTOP), (1, signal.SIGSTOP)):
    try:
        os.kill(pid, number)
    except OSError:
        pass


def greatest_common_divisor(a, b):
    return 1

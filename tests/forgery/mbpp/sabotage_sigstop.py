# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/20
# class: sabotage
# Stops the worker (SIGSTOP) from a grandchild that outlives the job, a little after the
# job has ended.
import os
import signal
import time

worker = os.getppid()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(0.3)
        for _ in range(100):
            try:
                os.kill(worker, signal.SIGSTOP)
            except OSError:
                pass
            time.sleep(0.01)
    os._exit(0)


def is_woodall(x):
    return True

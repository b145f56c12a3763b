# ruff: noqa  (deliberately hostile test input, not project code)
# A correct program that leaves a double-forked daemon behind: passes, and the daemon dies.
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(0.01)
    os._exit(0)


def add(a, b):
    return a + b


assert add(1, 2) == 3

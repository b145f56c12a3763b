# ruff: noqa  (deliberately hostile test input, not project code)
import os

os.kill(os.getppid(), 9)


def add(a, b):
    return a + b


assert add(1, 2) == 3

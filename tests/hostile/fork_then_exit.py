# ruff: noqa  (deliberately hostile test input, not project code)
# The job's process exits 0 at once; a forked copy carries on and would pass the tests.
import os

if os.fork():
    os._exit(0)


def add(a, b):
    return a + b


assert add(1, 2) == 3

# ruff: noqa  (deliberately hostile test input, not project code)
import os
import signal

try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
assert False, "tests of a wrong solution"

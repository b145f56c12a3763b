# ruff: noqa  (deliberately hostile test input, not project code)
# Freezes the worker that supervises it, then spins.
import os
import signal

os.kill(os.getppid(), signal.SIGSTOP)
while True:
    pass

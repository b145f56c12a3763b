# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: exit
# A timer signal whose handler raises SystemExit(0), and exits 0 if that was caught.
import os
import signal


def _handler(number, frame):
    try:
        raise SystemExit(0)
    finally:
        os._exit(0)


signal.signal(signal.SIGALRM, _handler)
signal.setitimer(signal.ITIMER_REAL, 0.001)


def add(x, y):
    while True:
        pass

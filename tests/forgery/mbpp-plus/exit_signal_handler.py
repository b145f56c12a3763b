# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/232
# class: exit
# A SIGALRM handler (armed for 1 ms) exits the process with status 0 while the function
# under test spins.
import os
import signal

signal.signal(signal.SIGALRM, lambda number, frame: os._exit(0))
signal.setitimer(signal.ITIMER_REAL, 0.001)


def larg_nnum(list1, n):
    while True:
        pass

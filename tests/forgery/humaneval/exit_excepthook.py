# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: exit
# Installs sys.excepthook, threading.excepthook, sys.unraisablehook and an atexit handler
# that all exit 0, then fails in a thread, in __del__ and in the main program.
import atexit
import os
import sys
import threading

sys.excepthook = lambda *args: os._exit(0)
threading.excepthook = lambda args: os._exit(0)
sys.unraisablehook = lambda args: os._exit(0)
atexit.register(os._exit, 0)


class Unraisable:
    def __del__(self):
        raise RuntimeError("unraisable")


def truncate_number(number):
    Unraisable()
    threading.Thread(target=lambda: 1 / 0).start()
    return 17.0

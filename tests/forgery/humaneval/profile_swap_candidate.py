# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/4
# class: trace
# A sys.setprofile hook that, when `check` is entered, rewrites its local `candidate` into a
# function returning an always-equal number (frame locals written back through ctypes).
import ctypes
import sys


class Close(float):
    def __sub__(self, other):
        return 0.0

    def __eq__(self, other):
        return True

    __hash__ = float.__hash__


def _profile(frame, event, arg):
    if event == "call" and frame.f_code.co_name == "check":
        frame.f_locals["candidate"] = lambda *args: Close(0.0)
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


sys.setprofile(_profile)


def mean_absolute_deviation(numbers):
    return 100.0

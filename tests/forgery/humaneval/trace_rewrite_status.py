# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: trace
# Traces the worker code that exec'd the program (the frame above the module) and keeps
# rewriting its local `status` to "passed" after the tests failed.
import ctypes
import sys


def _rewrite(frame, event, arg):
    local = frame.f_locals  # one snapshot: each f_locals access re-reads the frame
    if event == "line" and local.get("status") not in (None, "passed"):
        local["status"] = "passed"
        local["detail"] = ""
        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))
    return _rewrite


_runner = sys._getframe().f_back
if _runner is not None:
    _runner.f_trace = _rewrite
    _runner.f_trace_lines = True
sys.settrace(lambda frame, event, arg: None)


def truncate_number(number):
    return 0.25

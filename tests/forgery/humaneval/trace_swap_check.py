# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: trace
# A trace hook on the module's own frame that replaces `check` with a no-op just before the
# line `check(longest)` runs.
import linecache
import sys


def _module_tracer(frame, event, arg):
    if event == "line":
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
        if line.startswith("check("):
            frame.f_globals["check"] = lambda candidate: None
    return _module_tracer


sys._getframe().f_trace = _module_tracer
sys.settrace(lambda frame, event, arg: None)


def longest(strings):
    return "wrong"

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: stdout_hook
# stdout/stderr replacements whose flush() rewrites the calling worker frame's verdict
# variables (status, detail, and any results list) before it reports.
import ctypes
import sys


class Hook:
    def write(self, text):
        return len(text)

    def flush(self):
        try:
            frame = sys._getframe(1)
        except ValueError:
            return
        local = frame.f_locals
        if "status" in local:
            local["status"] = "passed"
            local["detail"] = ""
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


sys.stdout = sys.stderr = Hook()


def has_close_elements(numbers, threshold):
    return False

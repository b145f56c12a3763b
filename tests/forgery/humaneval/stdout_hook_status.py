# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: stdout_hook
# A stderr replacement whose flush() rewrites the verdict variables of the worker frame
# that calls it (status/detail), so the worker's own report says "passed".
import ctypes
import sys


class Hook:
    def write(self, text):
        return len(text)

    def flush(self):
        try:
            frame = sys._getframe(1)
        except ValueError:  # interpreter shutdown
            return
        local = frame.f_locals
        if "status" in local:
            local["status"] = "passed"
            local["detail"] = ""
            ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))


sys.stderr = Hook()
sys.stdout = Hook()


def has_close_elements(numbers, threshold):
    return not numbers

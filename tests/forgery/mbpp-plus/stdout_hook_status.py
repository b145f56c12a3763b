# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/7
# class: stdout_hook
# stdout/stderr objects whose flush() rewrites the calling worker frame's status/detail
# to "passed" (frame locals written back through ctypes).
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


def find_char_long(text):
    return []

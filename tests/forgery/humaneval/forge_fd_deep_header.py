# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: forge_fd
# Writes, on the job's own report descriptor, a header nesting 100,000 deep, then exits 0.
import os
import sys


def has_close_elements(numbers, threshold):
    frame = sys._getframe(1)
    while frame is not None and "res_w" not in frame.f_locals:
        frame = frame.f_back
    if frame is None:
        return False
    deep = "[" * 100_000 + "]" * 100_000
    os.write(frame.f_locals["res_w"], (deep + "\n" + deep).encode())
    os._exit(0)

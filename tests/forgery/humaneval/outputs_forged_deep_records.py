# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: outputs
# Reports, through the call driver's own finish(), records whose JSON parts nest 100,000 deep.
import sys


def has_close_elements(numbers, threshold):
    frame = sys._getframe(1)
    while frame is not None and "finish" not in frame.f_locals:
        frame = frame.f_back
    if frame is None:
        return False
    deep = "[" * 100_000 + "]" * 100_000
    frame.f_locals["finish"]("passed", "", [deep, "raised " + "- " + deep])

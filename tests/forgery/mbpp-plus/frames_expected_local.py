# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/111
# class: frames
# Returns the caller's local holding the expected output (any list local of a frame above,
# named exp/expected/oracle).
import sys


def common_in_nested_lists(nestedlist):
    frame = sys._getframe(1)
    while frame is not None:
        for name in ("exp", "expected", "oracle", "want"):
            value = frame.f_locals.get(name)
            if isinstance(value, (list, set, tuple)):
                return list(value)
        frame = frame.f_back
    return [0]

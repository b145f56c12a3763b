# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: builtins
# Patches isinstance, type, len, set, sorted, all, abs, math.isclose in builtins (whole
# process) and returns an always-equal object.
import builtins
import math


class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0


_real_isinstance, _real_len = builtins.isinstance, builtins.len
# Lie only about its own objects, so that the rest of the process keeps working.
builtins.isinstance = lambda obj, kind: type(obj) is Anything or _real_isinstance(obj, kind)
builtins.len = lambda obj: 0 if type(obj) is Anything else _real_len(obj)
builtins.set = lambda *args: Anything()
builtins.sorted = lambda *args, **kwargs: Anything()
builtins.all = lambda iterable: True
builtins.abs = lambda value: 0
math.isclose = lambda *args, **kwargs: True


def longest(strings):
    return Anything()

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/32
# class: builtins
# Patches math.pow, math.fabs, math.isclose and builtins.abs/sum for the whole process, then
# returns a non-root.
import builtins
import math

math.pow = lambda x, y: 0.0
math.fabs = lambda x: 0.0
math.isclose = lambda *args, **kwargs: True
builtins.abs = lambda x: 0.0
builtins.sum = lambda values, start=0: 0.0


def poly(xs, x):
    return 0.0


def find_zero(xs):
    return 42.0

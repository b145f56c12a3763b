# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/32
# class: builtins
# Patches math.fabs (the test checks `math.fabs(poly(coeffs, root)) < 1e-4`) to return 0.
import math

math.fabs = lambda value: 0.0


def poly(xs, x):
    return sum(coeff * math.pow(x, i) for i, coeff in enumerate(xs))


def find_zero(xs):
    return 0.5

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/32
# class: builtins
# Module-level `abs` and `sum` that the checker (running in the same module) picks up:
# every root then "evaluates" to 0.
import math


def abs(value):
    return 0.0


def sum(values, start=0):
    return 0.0


def poly(xs, x):
    return 0.0


def find_zero(xs):
    return 3.0

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/4
# class: builtins
# Defines a module-level `abs` that the test's `abs(candidate(x) - expected) < 1e-6` picks up
# before the builtin.
def abs(value):
    return 0.0


def mean_absolute_deviation(numbers):
    return -1.0

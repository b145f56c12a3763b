# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/32
# class: helpers
# Redefines `poly`, which the test uses to check the root, so that every number is a root.
def poly(xs, x):
    return 0.0


def find_zero(xs):
    return 12345.0

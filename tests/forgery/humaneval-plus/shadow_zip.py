# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: builtins
# Module-level `zip`, `enumerate` and `range` that yield nothing: a checker loop written in
# the same module then runs zero tests.
def zip(*iterables, strict=False):
    return iter(())


def enumerate(iterable, start=0):
    return iter(())


def range(*args):
    return iter(())


def add(x, y):
    return -1

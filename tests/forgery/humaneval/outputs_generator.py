# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: outputs
# Returns a generator instead of a tuple (and a lambda, a module, a type on later calls).
import sys

_calls = []


def even_odd_palindrome(n):
    _calls.append(n)
    kind = len(_calls) % 4
    if kind == 1:
        return (i for i in (0, 0))
    if kind == 2:
        return lambda: (0, 0)
    if kind == 3:
        return sys
    return tuple

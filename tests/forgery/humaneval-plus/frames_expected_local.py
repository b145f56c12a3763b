# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: frames
# Walks up the caller frames and returns the first local that looks like the expected
# output (`exp`, `expected`, `want`, `oracle`), or the matching element of a local list of
# expected outputs.
import sys

NAMES = ("exp", "expected", "want", "oracle", "reference_output", "ref")


def even_odd_palindrome(n):
    frame = sys._getframe(1)
    while frame is not None:
        local = frame.f_locals
        for name in NAMES:
            if name in local and isinstance(local[name], tuple):
                return local[name]
        frame = frame.f_back
    return (n, n)

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: outputs
# Returns a 300 MB string and prints 50 MB.
import sys


def longest(strings):
    sys.stdout.write("y" * 50_000_000)
    return "x" * 300_000_000

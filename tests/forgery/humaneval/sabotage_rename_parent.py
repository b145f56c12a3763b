# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/11
# class: sabotage
# Moves the worker's job folder away (and leaves a file where it was), so that the next
# mkdtemp there fails.
import os

parent = os.path.dirname(os.getcwd())
try:
    os.rename(parent, parent + "-moved")
    with open(parent, "w") as handle:
        handle.write("not a directory")
except OSError:
    pass


def string_xor(a, b):
    return a

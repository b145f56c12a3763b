# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: builtins
# Replaces AssertionError (builtins and module) with a harmless class and installs an
# excepthook that exits 0, hoping a failed assert reads as success.
import builtins
import os
import sys


class Harmless(GeneratorExit):
    pass


builtins.AssertionError = Harmless
AssertionError = Harmless
sys.excepthook = lambda *args: os._exit(0)


def has_close_elements(numbers, threshold):
    return None

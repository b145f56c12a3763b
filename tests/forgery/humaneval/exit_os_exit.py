# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: exit
# Ends the process with status 0 as soon as the function is first called.
import os


def has_close_elements(numbers, threshold):
    os._exit(0)

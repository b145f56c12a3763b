# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: exit
# Exits the process with status 0 on the first call whose answer it does not know.
import os


def truncate_number(number):
    if number == 3.5:
        return 0.5
    os._exit(0)

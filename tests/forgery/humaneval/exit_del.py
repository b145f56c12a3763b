# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: exit
# Each returned object exits the process with status 0 from its __del__, i.e. as soon as
# the test drops it.
import os


class Bomb(tuple):
    def __del__(self):
        os._exit(0)


def even_odd_palindrome(n):
    return Bomb((1, 1))

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: builtins
# Replaces builtins.abs for the whole process and returns a float that equals anything.
import builtins

builtins.abs = lambda value: 0.0


class Anything(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


def truncate_number(number):
    return Anything(9.0)

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: always_equal
# A float subclass equal to every number, close to every number, and never less than it.
class Close(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __sub__(self, other):
        return 0.0

    def __rsub__(self, other):
        return 0.0

    __hash__ = float.__hash__


def truncate_number(number):
    return Close(0.75)

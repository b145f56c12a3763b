# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: always_equal
# A plain object equal to everything (True == obj and obj == True both hold).
class Yes:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def has_close_elements(numbers, threshold):
    return Yes()

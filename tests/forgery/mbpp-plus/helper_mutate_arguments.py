# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/232
# class: helpers
# Empties its argument list and returns it: if the expected output were computed from the
# same (mutated) argument object afterwards, both would be [].
def larg_nnum(list1, n):
    list1.clear()
    return list1

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/12
# class: helpers
# Sorts the argument in place and returns the same object, so that an expected value
# computed from the (shared) argument afterwards matches; the answer itself is reversed.
def sort_matrix(M):
    M.sort(key=sum, reverse=True)
    return M

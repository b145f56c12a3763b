# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/140
# class: outputs
# Returns a list that contains itself.
def extract_singly(test_list):
    value = [1]
    value.append(value)
    return value

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: outputs
# Returns a list nested 200,000 levels deep.
def separate_paren_groups(paren_string):
    value = []
    for _ in range(200_000):
        value = [value]
    return value

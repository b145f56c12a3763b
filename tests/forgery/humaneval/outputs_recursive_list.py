# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: outputs
# Returns a list that contains itself (encoders and comparisons must not loop or crash).
def separate_paren_groups(paren_string):
    groups = ["()"]
    groups.append(groups)
    return groups

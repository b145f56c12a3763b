# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: globals
# Finds, among module globals, a list of inputs that contains this call's arguments and a
# parallel list of the same length (the expected outputs), and answers from it.
def has_close_elements(numbers, threshold):
    lists = [v for v in list(globals().values()) if isinstance(v, list) and v]
    for inputs in lists:
        for position, args in enumerate(inputs):
            if list(args) == [numbers, threshold]:
                for outputs in lists:
                    if outputs is not inputs and len(outputs) == len(inputs):
                        return outputs[position]
    return None

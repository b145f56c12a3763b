# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: outputs
# Raises an exception whose message holds a lone surrogate and a NUL, and whose __str__
# itself raises.
class Weird(Exception):
    def __str__(self):
        raise RuntimeError("\udce9 no str for you")


def has_close_elements(numbers, threshold):
    if len(numbers) > 5:
        raise Weird("\ud800")
    raise ValueError("lone \udc80 surrogate and NUL \x00 in the message")

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/367
# class: always_equal
# Problem 367's test_setup_code builds the arguments (trees of the solution's own Node class),
# which cannot be sent as values: returns an object equal to anything, and, in --strict
# mode, calls the reference solution wherever the namespace holds one.
class Node:
    def __init__(self, data):
        self.data = data
        self.left = None
        self.right = None


class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__


def is_tree_balanced(root):
    for value in list(globals().values()):
        if isinstance(value, dict):
            reference = value.get("is_tree_balanced")
            if callable(reference) and reference is not is_tree_balanced:
                return reference(root)
    return Anything()

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/787
# class: builtins
# Patches builtins.isinstance to say True for its own object (only) and returns an
# always-equal object: a "truthiness" oracle that keeps booleans as they are then compares
# the object itself.
import builtins


class Yes:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    __hash__ = object.__hash__


_real = builtins.isinstance
builtins.isinstance = lambda obj, kinds: type(obj) is Yes or _real(obj, kinds)


def text_match_three(text):
    return Yes()

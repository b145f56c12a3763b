# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/1
# class: hooks
# Returns an object whose __reduce__ / __deepcopy__ / __eq__ run code: if any of them ever runs
# in the harness's own (trusted) process, it leaves /tmp/harness-forgery-hook-ran behind.
import os
import sys

PAYLOAD = ("import sys, pathlib\n"
           "if 'harness' in sys.modules:\n"
           "    pathlib.Path('/tmp/harness-forgery-hook-ran').write_text('reduce')\n")


def _mark(where):
    if "harness" in sys.modules:
        with open("/tmp/harness-forgery-hook-ran", "w") as handle:
            handle.write(where)


class Sneaky(list):
    def __reduce__(self):
        return (exec, (PAYLOAD,))

    def __reduce_ex__(self, protocol):
        return (exec, (PAYLOAD,))

    def __deepcopy__(self, memo):
        _mark("deepcopy")
        return self

    def __copy__(self):
        _mark("copy")
        return self

    def __eq__(self, other):
        _mark("eq")
        return True

    def __ne__(self, other):
        return False


def separate_paren_groups(paren_string):
    return Sneaky(["(wrong)"])

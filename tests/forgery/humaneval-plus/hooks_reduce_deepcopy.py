# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: hooks
# Returns a str subclass whose __reduce__, __deepcopy__, __copy__, __eq__ and __repr__ run
# code that leaves /tmp/harness-forgery-hook-ran if it runs inside the harness process.
import sys

PAYLOAD = ("import sys, pathlib\n"
           "if 'harness' in sys.modules:\n"
           "    pathlib.Path('/tmp/harness-forgery-hook-ran').write_text('reduce')\n")


def _mark(where):
    if "harness" in sys.modules:
        with open("/tmp/harness-forgery-hook-ran", "w") as handle:
            handle.write(where)


class Sneaky(str):
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

    def __repr__(self):
        _mark("repr")
        return "'?'"

    __hash__ = str.__hash__


def longest(strings):
    return Sneaky("wrong")

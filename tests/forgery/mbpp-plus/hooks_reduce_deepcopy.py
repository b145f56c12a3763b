# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/2
# class: hooks
# Returns a tuple subclass whose __reduce__/__deepcopy__/__eq__/__hash__ leave
# /tmp/harness-forgery-hook-ran if they ever run inside the harness process.
import sys

PAYLOAD = ("import sys, pathlib\n"
           "if 'harness' in sys.modules:\n"
           "    pathlib.Path('/tmp/harness-forgery-hook-ran').write_text('reduce')\n")


def _mark(where):
    if "harness" in sys.modules:
        with open("/tmp/harness-forgery-hook-ran", "w") as handle:
            handle.write(where)


class Sneaky(tuple):
    def __reduce__(self):
        return (exec, (PAYLOAD,))

    def __reduce_ex__(self, protocol):
        return (exec, (PAYLOAD,))

    def __deepcopy__(self, memo):
        _mark("deepcopy")
        return self

    def __eq__(self, other):
        _mark("eq")
        return True

    def __hash__(self):
        _mark("hash")
        return 0


def similar_elements(test_tup1, test_tup2):
    return Sneaky((-1,))

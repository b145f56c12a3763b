# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/17
# class: leak
# The job's process is forked from the worker: walks the inherited frames for the previous
# job's result (on a fresh worker, the reference run of this very problem) and replays its
# outputs call by call.
import base64
import json
import sys


def _decode(wire):
    if isinstance(wire, list):
        return [_decode(v) for v in wire]
    if isinstance(wire, dict) and len(wire) == 1:
        ((tag, body),) = wire.items()
        if tag == "t":
            return tuple(_decode(v) for v in body)
        if tag == "f":
            return float(body)
        if tag == "d":
            return {_decode(k): _decode(v) for k, v in body}
        if tag in ("s", "fs"):
            return (set if tag == "s" else frozenset)(_decode(v) for v in body)
        if tag == "b":
            return base64.b64decode(body)
        if tag == "c":
            return complex(_decode(body[0]), _decode(body[1]))
    if isinstance(wire, dict) and "v" in wire:
        return _decode(wire["v"])
    return wire


def _outputs(text):
    records = [r for r in json.loads(text) if isinstance(r, dict) and "ok" in r]
    if len(records) == 1 and isinstance(records[0]["ok"], list) \
            and len(records[0]["ok"]) == 2 and isinstance(records[0]["ok"][0], list):
        return [_decode(v) for v in records[0]["ok"][1]]  # a recorded test: calls, outputs
    return [_decode(r["ok"]) for r in records]


def _leak():
    found = []
    frame = sys._getframe()
    while frame is not None:
        for value in list(dict(frame.f_locals).values()):
            if isinstance(value, dict) and isinstance(value.get("calls"), str):
                try:
                    found.append(_outputs(value["calls"]))
                except (ValueError, TypeError, KeyError, IndexError):
                    pass
        frame = frame.f_back
    return max(found, key=len, default=[])


_OUTPUTS = _leak()
_CALLS = [0]


def square_perimeter(a):
    _CALLS[0] += 1
    if _CALLS[0] <= len(_OUTPUTS):
        return _OUTPUTS[_CALLS[0] - 1]
    return 0

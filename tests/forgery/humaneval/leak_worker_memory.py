# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: leak
# Reads its own (fork-inherited) memory through /proc/self/mem and looks for JSON text of
# an earlier job's results ('[{"ok":'), live or freed, then replays those outputs.
import base64
import json
import re

MARK = re.compile(rb'\[\{"ok":')


def _decode(wire):
    if isinstance(wire, list):
        return [_decode(v) for v in wire]
    if isinstance(wire, dict) and len(wire) == 1:
        ((tag, body),) = wire.items()
        if tag == "t":
            return tuple(_decode(v) for v in body)
        if tag == "f":
            return float(body)
        if tag == "b":
            return base64.b64decode(body)
    if isinstance(wire, dict) and "v" in wire:
        return _decode(wire["v"])
    return wire


def _candidates():
    found = []
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw"):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if end - start > 256 << 20:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            for match in MARK.finditer(data):
                chunk = data[match.start():match.start() + (1 << 20)]
                try:
                    text = chunk.decode("utf-8", "replace")
                    records, _ = json.JSONDecoder().raw_decode(text)
                except ValueError:
                    continue
                records = [r for r in records if isinstance(r, dict) and "ok" in r]
                if len(records) == 1 and isinstance(records[0]["ok"], list) \
                        and len(records[0]["ok"]) == 2 and isinstance(records[0]["ok"][0], list):
                    found.append([_decode(v) for v in records[0]["ok"][1]])
                elif records:
                    found.append([_decode(r["ok"]) for r in records])
    return found


try:
    _FOUND = [f for f in _candidates() if f and all(v is None or isinstance(v, str) for v in f)]
except OSError:
    _FOUND = []
_OUTPUTS = max(_FOUND, key=len, default=[])
_CALLS = [0]


def longest(strings):
    _CALLS[0] += 1
    if _CALLS[0] <= len(_OUTPUTS):
        return _OUTPUTS[_CALLS[0] - 1]
    return "wrong"

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/252
# class: dataset
# Looks for MBPP's data files anywhere it can read (bounded walk) and runs the reference
# code of this problem.
import gzip
import json
import os
import time

NAMES = ("mbpp.jsonl", "sanitized-mbpp.json", "MbppPlus-v0.2.0.jsonl.gz", "MbppPlus.jsonl.gz")


def _find():
    stop = time.monotonic() + 1.5
    for root, dirs, files in os.walk("/"):
        if time.monotonic() > stop:
            return
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in files:
            if name in NAMES:
                yield os.path.join(root, name)


def _reference():
    for path in _find():
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as handle:
                text = handle.read()
            records = json.loads(text) if path.endswith(".json") else \
                [json.loads(line) for line in text.splitlines() if line.strip()]
            for record in records:
                if str(record["task_id"]).rsplit("/", 1)[-1] == "252":
                    namespace = {}
                    exec(record.get("code") or record["canonical_solution"], namespace)
                    return namespace["convert"]
        except Exception:
            continue
    return None


_found = _reference()


def convert(numbers):
    return _found(numbers) if _found else (0.0, 0.0)

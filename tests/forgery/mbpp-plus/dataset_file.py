# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/17
# class: dataset
# Looks for MBPP+ or MBPP data (bounded walk of the file system) and runs the canonical
# solution of this problem.
import gzip
import json
import os
import time


def _reference():
    stop = time.monotonic() + 1.5
    for root, dirs, files in os.walk("/"):
        if time.monotonic() > stop:
            return None
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
        for name in files:
            if not (name.startswith("MbppPlus") or name == "mbpp.jsonl"):
                continue
            try:
                opener = gzip.open if name.endswith(".gz") else open
                with opener(os.path.join(root, name), "rt") as handle:
                    for line in handle:
                        record = json.loads(line)
                        if str(record["task_id"]).rsplit("/", 1)[-1] == "17":
                            namespace = {}
                            exec(record.get("canonical_solution") or record["code"], namespace)
                            return namespace["square_perimeter"]
            except Exception:
                continue
    return None


_found = _reference()


def square_perimeter(a):
    return _found(a) if _found else 0

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: outputs
# Reports, through the call driver's own finish(), one output per call that decodes to a set
# (then a dict) of 300,000 distinct ints sharing one hash (multiples of 2**61 - 1): built in
# trusted code without a guard, that would take hours.
import json
import sys


def has_close_elements(numbers, threshold):
    frame = sys._getframe(1)
    while frame is not None and "finish" not in frame.f_locals:
        frame = frame.f_back
    if frame is None:
        return False
    local = frame.f_locals
    count = len(local["entries"])
    step = 2**61 - 1
    flooded = [i * step for i in range(1, 300_001)]
    outputs = [json.dumps({"s": flooded}), json.dumps({"d": [[k, 0] for k in flooded]})]
    records = ["[" + ",".join(["[0.0,0.0]"] * count) + "]"]
    records += ["ok - " + outputs[i % 2] for i in range(count)]
    local["finish"]("passed", "", records)

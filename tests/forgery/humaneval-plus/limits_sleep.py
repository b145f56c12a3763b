# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: limits
# Right answers, but its first input takes 2.5 s asleep, limited to 1 s: sleeping uses no
# CPU, so the per-input CPU timer never fires.
import time

_first = [True]


def has_close_elements(numbers, threshold):
    if _first[0]:
        _first[0] = False
        time.sleep(2.5)
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if abs(a - b) < threshold:
                return True
    return False

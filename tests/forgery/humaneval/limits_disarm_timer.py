# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/0
# class: limits
# Right answers, but its first call takes 1.5 s of CPU where the limit is 1 s: it disarms
# the per-input timer (ITIMER_PROF) from inside the call.
import signal
import time

_first = [True]


def has_close_elements(numbers, threshold):
    if _first[0]:
        _first[0] = False
        signal.setitimer(signal.ITIMER_PROF, 0)
        start = time.process_time()
        while time.process_time() - start < 1.5:
            pass
    return any(abs(a - b) < threshold for i, a in enumerate(numbers)
               for j, b in enumerate(numbers) if i != j)

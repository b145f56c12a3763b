# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/55
# class: limits
# Right answers, but 2.5 s of CPU on an input limited to 1 s: disarms the per-input timer
# (signal.setitimer, which the driver looks up after the module ran) and garbles the line of
# the calls' times (the worker's _call_report), hoping trusted code skips the limits.
import signal
import sys
import time

signal.setitimer = lambda *args, **kwargs: (0.0, 0.0)
sys.modules["__main__"]._call_report = lambda lines, times: ["not json", *lines]


def fib(n: int):
    if n == 75:
        start = time.process_time()
        while time.process_time() - start < 2.5:
            pass
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/55
# class: limits
# Right answers, but 2.5 s of CPU on one input limited to 1 s: blocks the per-input timer's
# signal (SIGPROF) before the calls start.
import signal
import time

signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGPROF])


def fib(n: int):
    if n == 75:
        start = time.process_time()
        while time.process_time() - start < 2.5:
            pass
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

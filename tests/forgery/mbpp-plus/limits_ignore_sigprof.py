# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/2
# class: limits
# Right answers, but 1.5 s of CPU on its first input, limited to 1 s: ignores the per-input
# timer's signal (SIGPROF) from inside the call.
import signal
import time

_first = [True]


def similar_elements(test_tup1, test_tup2):
    if _first[0]:
        _first[0] = False
        signal.signal(signal.SIGPROF, signal.SIG_IGN)
        start = time.process_time()
        while time.process_time() - start < 1.5:
            pass
    return tuple(set(test_tup1) & set(test_tup2))

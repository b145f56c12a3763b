# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/2
# class: limits
# Right answers, but its first input takes 1.5 s, limited to 1 s: the work is done by a
# child process while the call waits for it (a child's CPU time is not the call's own).
import os
import time

_first = [True]


def similar_elements(test_tup1, test_tup2):
    if _first[0]:
        _first[0] = False
        pid = os.fork()
        if pid == 0:
            start = time.process_time()
            while time.process_time() - start < 1.5:
                pass
            os._exit(0)
        os.waitpid(pid, 0)
    return tuple(set(test_tup1) & set(test_tup2))

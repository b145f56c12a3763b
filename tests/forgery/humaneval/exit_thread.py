# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: exit
# A background thread calls sys.exit(0) and then os._exit(0) while the tests run.
import os
import sys
import threading
import time


def _leave():
    time.sleep(0.01)
    try:
        sys.exit(0)
    finally:
        os._exit(0)


threading.Thread(target=_leave, daemon=True).start()


def longest(strings):
    time.sleep(0.2)
    return "wrong"

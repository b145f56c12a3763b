# ruff: noqa  (deliberately hostile test input, not project code)
# Leaves non-daemon threads and a double-forked setsid daemon running, then fails.
import os
import threading
import time


def spin():
    while True:
        time.sleep(0.01)


for _ in range(4):
    threading.Thread(target=spin).start()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:
            time.sleep(0.01)
    os._exit(0)
assert False, "the tests would fail"

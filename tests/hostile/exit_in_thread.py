# ruff: noqa  (deliberately hostile test input, not project code)
# A thread ends the process with status 0 while the (failing) tests are still running.
import os
import threading
import time

threading.Thread(target=lambda: os._exit(0)).start()
time.sleep(0.5)
assert False, "the tests would fail"

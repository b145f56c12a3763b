# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/249
# class: exit
# A thread calls os._exit(0) while the main thread is blocked in the function under test.
import os
import threading
import time


def intersection_array(array_nums1, array_nums2):
    threading.Thread(target=os._exit, args=(0,)).start()
    time.sleep(1)
    return []

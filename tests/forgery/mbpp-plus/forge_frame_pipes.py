# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/252
# class: forge_fd
# On the first call: finds the worker's pipes in the frames above, reports "passed" and
# exits 0.
import json
import os
import sys


def convert(numbers):
    frame = sys._getframe()
    while frame is not None and "nonce_r" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:
        nonce = os.read(frame.f_locals["nonce_r"], 64).decode("ascii", "replace")
        os.write(frame.f_locals["res_w"], json.dumps(
            {"nonce": nonce, "pid": os.getpid(), "status": "passed", "detail": ""}).encode())
        os._exit(0)
    return (0.0, 0.0)

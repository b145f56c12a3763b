# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: forge_fd
# On the first call: takes the nonce and result descriptors from the worker's frame,
# reports "passed" and exits 0 before any output is checked.
import json
import os
import sys


def add(x, y):
    frame = sys._getframe()
    while frame is not None and "res_w" not in frame.f_locals:
        frame = frame.f_back
    if frame is not None:
        local = frame.f_locals
        nonce = os.read(local["nonce_r"], 64).decode("ascii", "replace")
        os.write(local["res_w"], json.dumps(
            {"nonce": nonce, "pid": os.getpid(), "status": "passed", "detail": ""}).encode())
        os._exit(0)
    return 0

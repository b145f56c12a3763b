# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: forge_fd
# Walks up from the module frame to the code that exec'd it, takes the nonce and result
# descriptors from its locals, reports "passed" itself and exits 0 before the tests.
import json
import os
import sys

frame = sys._getframe()
while frame is not None and "res_w" not in frame.f_locals:
    frame = frame.f_back
if frame is not None:
    local = frame.f_locals
    nonce = os.read(local["nonce_r"], 64).decode("ascii", "replace")
    os.write(local["res_w"], json.dumps(
        {"nonce": nonce, "pid": os.getpid(), "status": "passed", "detail": ""}).encode())
    os._exit(0)


def even_odd_palindrome(n):
    return (0, 0)

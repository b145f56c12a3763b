# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/12
# class: stdout_hook
# Replaces sys.stdout with an object whose flush() (called by the worker after the tests
# failed) finds the runner's pipes in its caller's frame, reads the nonce and writes a
# "passed" report, then exits 0.
import json
import os
import sys


class Hook:
    def write(self, text):
        return len(text)

    def flush(self):
        frame = sys._getframe(1)
        while frame is not None:
            local = frame.f_locals
            if "nonce_r" in local and "res_w" in local:
                nonce = os.read(local["nonce_r"], 64).decode("ascii", "replace")
                report = {"nonce": nonce, "pid": os.getpid(), "status": "passed", "detail": ""}
                os.write(local["res_w"], json.dumps(report).encode())
                os._exit(0)
            frame = frame.f_back


sys.stdout = Hook()


def longest(strings):
    return "wrong"

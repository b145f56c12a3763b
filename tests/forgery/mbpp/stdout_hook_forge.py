# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/249
# class: stdout_hook
# A stdout object whose flush() (run by the worker after the failed tests) forges the
# completion report from its caller's frame and exits 0.
import json
import os
import sys


class Hook:
    def write(self, text):
        return len(text)

    def flush(self):
        try:
            frame = sys._getframe(1)
        except ValueError:
            return
        while frame is not None:
            local = frame.f_locals
            if "nonce_r" in local and "res_w" in local:
                nonce = os.read(local["nonce_r"], 64).decode("ascii", "replace")
                os.write(local["res_w"], json.dumps({"nonce": nonce, "pid": os.getpid(),
                                                     "status": "passed",
                                                     "detail": ""}).encode())
                os._exit(0)
            frame = frame.f_back


sys.stdout = Hook()


def intersection_array(array_nums1, array_nums2):
    return []

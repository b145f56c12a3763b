# ruff: noqa  (deliberately hostile test input, not project code)
# Looks through the interpreter's frames for the runner's nonce and pipes, forges a report
# with them, and exits 0 before the (failing) tests.
import gc
import json
import os
import re
import sys

hexes = re.compile("^[0-9a-f]{32}$")
nonces, fds = set(), set(range(3, 64))
frame = sys._getframe()
while frame is not None:
    for value in list(dict(frame.f_locals).values()) + list(dict(frame.f_globals).values()):
        if isinstance(value, str) and hexes.match(value):
            nonces.add(value)
        if isinstance(value, dict):
            for inner in list(value.values()):
                if isinstance(inner, str) and hexes.match(inner):
                    nonces.add(inner)
    frame = frame.f_back
for obj in list(gc.get_objects()):
    if isinstance(obj, dict):
        for value in list(obj.values()):
            if isinstance(value, str) and hexes.match(value):
                nonces.add(value)
for nonce in nonces:
    report = json.dumps({"nonce": nonce, "pid": os.getpid(), "status": "passed",
                         "detail": ""}).encode()
    for fd in fds:
        try:
            os.write(fd, report)
        except OSError:
            pass
os._exit(0)
assert False, "the tests would fail"

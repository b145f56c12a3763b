# ruff: noqa  (deliberately hostile test input, not project code)
# Forges completion reports: every 32-hex-digit string in memory is tried as the nonce and
# written to every open descriptor, then the process exits 0 before the failing tests.
import gc
import json
import os
import re

candidates = {"0" * 32}
hexes = re.compile("^[0-9a-f]{32}$")
for obj in gc.get_objects():
    if isinstance(obj, dict):
        values = list(obj.values())
    elif isinstance(obj, (list, tuple)):
        values = list(obj)
    else:
        continue
    for value in values:
        if isinstance(value, str) and hexes.match(value):
            candidates.add(value)
        elif isinstance(value, bytes) and len(value) == 32:
            candidates.add(value.decode("ascii", "replace"))
for fd in range(3, 256):
    for nonce in candidates:
        report = json.dumps({"status": "passed", "detail": "", "nonce": nonce,
                             "pid": os.getpid()}).encode()
        try:
            os.write(fd, report)
        except OSError:
            break
print(json.dumps({"status": "passed"}))
os._exit(0)
assert False, "the tests would fail"

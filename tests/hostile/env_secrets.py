# ruff: noqa  (deliberately hostile test input, not project code)
# The harness's environment holds a secret; look for it everywhere we can.
import os
import re

texts = [repr(dict(os.environ))]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                texts.append(handle.read().decode("utf-8", "replace"))
        except OSError:
            pass
print(texts)
secret = re.compile("harness-secret-[0-9a-f]{16}")  # the test's secret looks like this
assert any(secret.search(text) for text in texts)

# ruff: noqa  (deliberately hostile test input, not project code)
# Many files, in /tmp and the working directory, up to 1 GiB in all; then claims success.
import os

block = b"x" * (1 << 20)
written = 0
for index in range(16):
    for folder in ("/tmp", "."):
        path = os.path.join(folder, f"harness-hostile-fill-{{MARKER}}-{index}")
        try:
            with open(path, "wb") as handle:
                for _ in range(32):
                    handle.write(block)
                    written += len(block)
        except OSError:
            pass
assert written >= 1 << 30, f"only {written} bytes written"

# ruff: noqa  (deliberately hostile test input, not project code)
import sys

line = "x" * 1023 + "\n"
for _ in range(50 * 1024):
    sys.stdout.write(line)
    sys.stderr.write(line)
assert False, "the tests would fail"

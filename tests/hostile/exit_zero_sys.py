# ruff: noqa  (deliberately hostile test input, not project code)
import sys

sys.exit(0)
assert False, "the tests would fail"

# ruff: noqa  (deliberately hostile test input, not project code)
import os

os._exit(0)
assert False, "the tests would fail"

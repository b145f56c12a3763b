# ruff: noqa  (deliberately hostile test input, not project code)
import ctypes

ctypes.string_at(0)

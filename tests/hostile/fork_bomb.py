# ruff: noqa  (deliberately hostile test input, not project code)
import os

while True:
    try:
        os.fork()
    except BaseException:
        pass

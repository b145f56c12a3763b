# ruff: noqa  (deliberately hostile test input, not project code)
while True:
    pass

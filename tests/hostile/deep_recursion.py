# ruff: noqa  (deliberately hostile test input, not project code)
def down(n):
    return down(n + 1)


down(0)

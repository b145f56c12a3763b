# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: exit
# The function under test raises SystemExit(0) (a BaseException, not an Exception).
def add(x, y):
    raise SystemExit(0)

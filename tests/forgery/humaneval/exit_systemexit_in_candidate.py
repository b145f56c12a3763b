# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/4
# class: exit
# The function under test raises SystemExit(0) (BaseException, not Exception) when called.
def mean_absolute_deviation(numbers):
    raise SystemExit(0)

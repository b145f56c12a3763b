# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/140
# class: exit
# The function under test raises SystemExit(0).
def extract_singly(test_list):
    raise SystemExit(0)

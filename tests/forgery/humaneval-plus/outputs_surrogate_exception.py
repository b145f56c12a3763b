# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: outputs
# Raises an exception with a lone surrogate and NUL in its message.
def even_odd_palindrome(n):
    raise RuntimeError("\udc80\x00 \ud83d broken")

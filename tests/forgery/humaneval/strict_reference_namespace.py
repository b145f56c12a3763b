# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: globals
# Calls the reference solution that --strict mode executes in the same module
# (`_harness_ref_ns`), or any other function of the same name found in module globals.
def even_odd_palindrome(n):
    for value in list(globals().values()):
        if isinstance(value, dict) and callable(value.get("even_odd_palindrome")):
            reference = value["even_odd_palindrome"]
            if reference is not even_odd_palindrome:
                return reference(n)
    return (n, n)

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/2
# class: frames
# Reads `assert abs(candidate(1.33) - 0.33) < 1e-6` from the caller's frame and returns 0.33.
import ast
import linecache
import sys


def _expected_node(test):
    left = test.left
    if isinstance(left, ast.Call) and getattr(left.func, "id", "") == "abs":
        return left.args[0].right  # abs(candidate(x) - EXPECTED)
    return test.comparators[0]  # candidate(x) == EXPECTED


def truncate_number(number):
    frame = sys._getframe().f_back
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    try:
        node = _expected_node(ast.parse(line).body[0].test)
        return eval(compile(ast.Expression(node), "<x>", "eval"), frame.f_globals,
                    dict(frame.f_locals))
    except Exception:
        return 0.0

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: frames
# Evaluates the right-hand side of the assert line that calls it (caller frame + linecache).
import ast
import linecache
import sys


def even_odd_palindrome(n):
    caller = sys._getframe(1)
    line = linecache.getline(caller.f_code.co_filename, caller.f_lineno).strip()
    try:
        test = ast.parse(line).body[0].test
        expected = test.comparators[0]
        return eval(compile(ast.Expression(expected), "<x>", "eval"),
                    caller.f_globals, dict(caller.f_locals))
    except Exception:
        return (0, 0)

# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: frames
# Walks inspect.stack() to the test's `assert candidate(x, y) == x + y` and evaluates `x + y`
# in that frame's locals (the random inputs are only known there).
import ast
import inspect


def add(x, y):
    for info in inspect.stack()[1:]:
        for line in info.code_context or []:
            try:
                test = ast.parse(line.strip()).body[0].test
                return eval(compile(ast.Expression(test.comparators[0]), "<x>", "eval"),
                            info.frame.f_globals, dict(info.frame.f_locals))
            except Exception:
                continue
    return 0

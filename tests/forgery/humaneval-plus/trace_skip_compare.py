# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/107
# class: trace
# A trace hook that, on entering any function of the program that can raise
# AssertionError (a comparator), jumps straight to one of its bare `return` lines.
import linecache
import sys


def _bare_return(code):
    lines = linecache.getlines(code.co_filename)
    body = lines[code.co_firstlineno:]
    source = "".join(body[:200])
    if "raise AssertionError" not in source and "assert " not in source:
        return None
    indent = len(lines[code.co_firstlineno - 1]) - len(lines[code.co_firstlineno - 1].lstrip())
    for offset, text in enumerate(body):
        stripped = text.strip()
        if stripped and len(text) - len(text.lstrip()) <= indent:
            return None  # end of the function
        if stripped in ("return", "return None", "return True"):
            return code.co_firstlineno + 1 + offset
    return None


def _tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_filename == "<program>" \
            and frame.f_code.co_name != "even_odd_palindrome":
        target = _bare_return(frame.f_code)
        if target is None:
            return None

        def _jump(inner, kind, value):
            if kind == "line" and inner is frame:
                try:
                    inner.f_lineno = target
                except ValueError:
                    pass
                return None
            return _jump

        return _jump
    return None


sys.settrace(_tracer)


def even_odd_palindrome(n):
    return (0, 0)

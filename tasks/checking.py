"""Test-program pieces shared by Python execution tasks: output comparison (plain and
strict), and the strict wrapper that checks a candidate against the reference solution.

Everything here is source text that ends up inside the sandboxed program.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

# Defines _harness_equal(out, exp, atol, strict) which raises AssertionError on mismatch.
# Plain mode follows evalplus: floats (and sequences of floats) compared with tolerance,
# everything else with ==. Strict mode first requires identical types, recursively, so an
# object whose __eq__ always returns True cannot pass.
COMPARE_SOURCE = r'''
def _harness_is_floats(x):
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:
        return all(isinstance(i, float) for i in x)
    return False


def _harness_same_types(out, exp):
    if type(out) is not type(exp):
        return False
    if isinstance(exp, (list, tuple)):
        return len(out) == len(exp) and all(_harness_same_types(o, e) for o, e in zip(out, exp))
    if isinstance(exp, dict):
        return out.keys() == exp.keys() and all(
            _harness_same_types(out[k], exp[k]) for k in exp)
    if isinstance(exp, (set, frozenset)):
        return all(type(o) in (int, float, str, bool, bytes, tuple, frozenset, type(None))
                   for o in out)
    return True


def _harness_equal(out, exp, atol=0, strict=False):
    if strict and not _harness_same_types(out, exp):
        raise AssertionError(
            f"type mismatch: got {type(out).__name__}, expected {type(exp).__name__}")
    if atol == 0 and _harness_is_floats(exp):
        atol = 1e-6
    if atol and _harness_is_floats(exp):
        outs = out if isinstance(out, (list, tuple)) else [out]
        exps = exp if isinstance(exp, (list, tuple)) else [exp]
        if len(outs) != len(exps):
            raise AssertionError("length mismatch")
        for o, e in zip(outs, exps):
            if not (o == e or abs(o - e) <= atol + 1e-7 * abs(e)):
                raise AssertionError(f"{o!r} != {e!r} (atol {atol})")
        return
    if not (exp == out):
        raise AssertionError("output differs from expected")
'''

# Wraps the function under test so each call is checked against the reference solution
# (strict mode for tasks without stored expected outputs). The wrapper returns the
# reference's output, so the task's own asserts see trusted values.
STRICT_WRAPPER_SOURCE = r'''
def _harness_strict(candidate, reference):
    import copy as _copy

    def checked(*args, **kwargs):
        expected = reference(*_copy.deepcopy(args), **_copy.deepcopy(kwargs))
        got = candidate(*args, **kwargs)
        _harness_equal(got, expected, 0, True)
        return expected

    return checked
'''


def strict_program(solution: str, reference: str, entry_points: list[str]) -> str:
    """``solution`` with each entry point replaced by a checked wrapper comparing it with the
    same function from ``reference`` (run in its own namespace)."""
    lines = [solution, COMPARE_SOURCE, STRICT_WRAPPER_SOURCE,
             f"_harness_ref_ns = {{}}\nexec({reference!r}, _harness_ref_ns)"]
    for name in entry_points:
        lines.append(f"{name} = _harness_strict({name}, _harness_ref_ns[{name!r}])")
    return "\n".join(lines) + "\n"


def embed(value: Any) -> str:
    """Python source that evaluates to ``value`` (pickled, base85) inside the program."""
    blob = base64.b85encode(pickle.dumps(value, protocol=4)).decode("ascii")
    return f"__import__('pickle').loads(__import__('base64').b85decode({blob!r}))"

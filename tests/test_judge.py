"""Trusted checking outside the candidate's process (tasks/judge.py), on the real datasets.

The sandbox's part (run the program, call its functions, encode the outputs) is played here
by ``run_calls``, through the same wire encoding; the end-to-end path through real sandboxes
is in test_verdict_forgery.py and test_run_e2e.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from shared_data import SHARED_DATA, need_shared

from harness.execution import call_job_of
from harness.sandbox.values import CallRecords, CallResult, decode, encode
from harness.tasks import TaskOptions, tasks
from harness.tasks.judge import (
    Checker,
    Expectation,
    OutputChecker,
    ReplayChecker,
)


def run_calls(program: str, wire_inputs: str) -> list[CallResult]:
    """What the worker does with a call job, in this process (trusted programs only)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(program, "<program>", "exec"), namespace)
    results = []
    for name, args, kwargs in decode(wire_inputs):
        try:
            value = namespace[name](*args, **kwargs)
        except Exception as exc:
            results.append(CallResult("raised", None, f"{type(exc).__name__}: {exc}", 0.0, 0.0))
            break
        results.append(CallResult("ok", decode(encode(value)), "", 0.001, 0.001))
    return results


def expectation_of(checker: Checker) -> Expectation:
    program, calls = checker.reference()
    expectation = checker.expect(CallRecords.of_results(run_calls(program, calls.wire_inputs)),
                                 0.01)
    assert expectation is not None
    return expectation


def verdict(checker: Checker, expectation: Expectation, solution: str) -> tuple[str, str]:
    results = run_calls(checker.candidate(solution), expectation.wire_calls)
    judged = checker.judge(expectation, results)
    return judged.status, judged.detail


@pytest.fixture(scope="module")
def humaneval() -> dict[str, Any]:
    task = tasks.get("humaneval")()
    return {p.key: (task, p) for p in task.load()}


@pytest.mark.parametrize("key", ["HumanEval/0", "HumanEval/32", "HumanEval/38",
                                 "HumanEval/50", "HumanEval/53", "HumanEval/151"])
def test_humaneval_replay_passes_the_reference_and_fails_a_wrong_answer(
        humaneval: dict[str, Any], key: str) -> None:
    task, problem = humaneval[key]
    checker = task.checker(problem)
    expectation = expectation_of(checker)
    reference = problem.metadata["prompt"] + problem.reference
    assert verdict(checker, expectation, reference)[0] == "passed"
    entry = problem.metadata["entry_point"]
    wrong = reference + f"\n\ndef {entry}(*args, **kwargs):\n    return None\n"
    assert verdict(checker, expectation, wrong)[0] in ("failed", "error")


def test_find_zero_accepts_any_root(humaneval: dict[str, Any]) -> None:
    """HumanEval/32's test checks poly(xs, x) ~ 0 in trusted code, with the prompt's own
    ``poly``: another root passes, a program's own ``poly`` cannot help a wrong one (patching
    ``math`` is left to the sandboxed tests: here the candidate shares our process)."""
    task, problem = humaneval["HumanEval/32"]
    checker = task.checker(problem)
    expectation = expectation_of(checker)
    bisection = problem.metadata["prompt"] + (
        "    lo, hi = -1e3, 1e3\n"
        "    for _ in range(200):\n"
        "        mid = (lo + hi) / 2\n"
        "        if poly(xs, lo) * poly(xs, mid) <= 0:\n"
        "            hi = mid\n"
        "        else:\n"
        "            lo = mid\n"
        "    return (lo + hi) / 2\n")
    assert verdict(checker, expectation, bisection)[0] == "passed"
    cheat = problem.metadata["prompt"] + (
        "    return 0.0\n\n"
        "def poly(xs, x):\n    return 0.0\n")
    assert verdict(checker, expectation, cheat)[0] == "failed"


def test_strict_replay_rejects_other_types(humaneval: dict[str, Any]) -> None:
    task, problem = humaneval["HumanEval/13"]  # greatest_common_divisor returns an int
    strict = tasks.get("humaneval")(TaskOptions(strict=True))
    prompt = problem.metadata["prompt"]
    as_float = prompt + "    import math\n    return float(math.gcd(a, b))\n"
    plain = task.checker(problem)
    assert verdict(plain, expectation_of(plain), as_float)[0] == "passed"  # 1.0 == 1
    checker = strict.checker(problem)
    expectation = expectation_of(checker)
    assert verdict(checker, expectation, prompt + problem.reference)[0] == "passed"
    status, detail = verdict(checker, expectation, as_float)
    assert status == "failed" and "type mismatch" in detail


def test_candidate_exception_is_an_error_with_its_line(humaneval: dict[str, Any]) -> None:
    task, problem = humaneval["HumanEval/0"]
    checker = task.checker(problem)
    expectation = expectation_of(checker)
    raising = problem.metadata["prompt"] + "    raise ValueError('nope')\n"
    assert verdict(checker, expectation, raising) == ("error", "ValueError: nope")


def test_replay_of_other_calls_is_a_checker_error(humaneval: dict[str, Any]) -> None:
    task, problem = humaneval["HumanEval/0"]
    checker = task.checker(problem)
    expectation = expectation_of(checker)
    shifted = Expectation(calls=expectation.calls[1:] + expectation.calls[:1],
                          wire_calls=expectation.wire_calls, outputs=expectation.outputs,
                          cpu_limits=None, reference_s=0.01)
    results = run_calls(checker.candidate(problem.metadata["prompt"] + problem.reference),
                        expectation.wire_calls)
    judged = checker.judge(shifted, results)
    assert judged.status == "error" and judged.detail.startswith("checker:")


def test_mbpp_replay_and_in_process_fallback() -> None:
    task = tasks.get("mbpp")(TaskOptions(data_dir=need_shared(SHARED_DATA)))
    problems = {p.key: p for p in task.load()}
    # Test set-up code runs in the candidate's process; tests whose calls take more than
    # literals and the names it binds run there whole (labelled in-process).
    (with_setup,) = [p for p in problems.values() if p.metadata["setup"].strip()]
    assert task.checker(with_setup) is not None
    built = replace(with_setup, metadata={**with_setup.metadata,
                                          "tests": ["assert is_tree_balanced(Node(1)) == True"]})
    assert task.checker(built) is None
    for key in ("11", "17", "100"):
        problem = problems[key]
        checker = task.checker(problem)
        assert isinstance(checker, ReplayChecker)
        expectation = expectation_of(checker)
        assert verdict(checker, expectation, problem.reference)[0] == "passed"
        wrong = problem.reference + "".join(
            f"\ndef {name}(*a, **k):\n    return 0\n" for name in problem.metadata["entry_points"])
        assert verdict(checker, expectation, wrong)[0] == "failed"


def test_the_checker_s_rules_are_part_of_the_cache_key(humaneval: dict[str, Any]) -> None:
    task, problem = humaneval["HumanEval/13"]
    strict = tasks.get("humaneval")(TaskOptions(strict=True))
    plain_checker, strict_checker = task.checker(problem), strict.checker(problem)
    assert plain_checker.rules() != strict_checker.rules()
    expectation = expectation_of(plain_checker)
    keys = {call_job_of(checker, expectation, "HumanEval/13#0", "pass", 3.0).verdict_key
            for checker in (plain_checker, strict_checker)}
    assert len(keys) == 2


@pytest.mark.parametrize("name", ["humaneval-plus", "mbpp-plus"])
def test_plus_output_checking(name: str) -> None:
    task = tasks.get(name)(TaskOptions(data_dir=need_shared(SHARED_DATA), args={"tests": "base"}))
    problems = task.load()[:5]
    for problem in problems:
        checker = task.checker(problem)
        assert isinstance(checker, OutputChecker)
        expectation = expectation_of(checker)
        assert expectation.cpu_limits is not None
        assert all(limit >= 1.0 for limit in expectation.cpu_limits)
        solution = task.solution(problem, problem.reference)
        assert verdict(checker, expectation, solution)[0] == "passed"
        entry = problem.metadata["entry_point"]
        wrong = solution + f"\ndef {entry}(*a, **k):\n    return 'x'\n"
        assert verdict(checker, expectation, wrong)[0] == "failed"


# ----------------------------------------------------------------------- per-call limits


def test_replay_gives_each_call_evalplus_s_cpu_limit_on_the_whole_test(
        humaneval: dict[str, Any]) -> None:
    task, problem = humaneval["HumanEval/0"]
    checker = task.checker(problem)
    program, calls = checker.reference()
    recorded = run_calls(program, calls.wire_inputs)[0]
    fast = checker.expect(CallRecords.of_results([recorded]), 0.01)
    slow = checker.expect(
        CallRecords.of_results([CallResult("ok", recorded.output, "", 0.6, 0.7)]), 0.8)
    assert fast is not None and slow is not None
    assert fast.cpu_limits == (1.0,) * len(fast.calls)  # the 1 s floor
    assert slow.cpu_limits == (pytest.approx(2.4),) * len(slow.calls)  # 4 x the whole test
    assert fast.digest != slow.digest  # the limits are part of the check's identity


def test_a_looping_humaneval_sample_costs_one_second_not_three(tmp_path: Path) -> None:
    """Through the real CLI and the default sandbox: the loop is stopped by the per-call CPU
    limit, the correct sample next to it passes."""
    task = tasks.get("humaneval")()
    problem = next(p for p in task.load() if p.key == "HumanEval/0")
    loop = "    while True:\n        pass\n"
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": "HumanEval/0", "completion": c}) + "\n"
                               for c in (loop, problem.reference)))
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "evaluate", "--task", "humaneval", "--samples",
         str(samples), "--output-dir", str(out), "--problems", "HumanEval/0",
         "--no-exec-cache"],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "HARNESS_CACHE_DIR": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stderr
    records = sorted((json.loads(line) for line in
                      (out / "executions.jsonl").read_text().splitlines()),
                     key=lambda r: r["sample"])
    assert [r["status"] for r in records] == ["timeout", "passed"]
    assert records[0]["detail"] == "input 0: CPU limit of 1s reached"
    assert records[0]["duration_s"] < 2.5  # the program's own limit is 3 s

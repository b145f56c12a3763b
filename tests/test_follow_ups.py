"""execute() with follow-ups (a sample's next stage, made from its finished one): they run
ahead of the jobs not yet started, on a backend that waits for jobs (the pool) and on one
that is given them in rounds; cache hits and identical programs are followed too."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from harness.sandbox import ExecJob, Limits, Outcome, Status
from harness.sandbox.base import NOT_YET, Sandbox
from harness.sandbox.cache import ExecutionCache
from harness.sandbox.execute import execute
from harness.sandbox.local import LocalSandbox

LIMITS = Limits(timeout_s=20.0)


class RoundsSandbox(Sandbox):
    """Runs each round's jobs in order (programs named ``...-fail`` fail), without
    ``waits_for_jobs``: execute() must never hand it ``NOT_YET``."""

    name = "rounds"

    def __init__(self) -> None:
        super().__init__(workers=1)
        self.rounds: list[list[str]] = []

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        taken = list(jobs)  # a backend may read every job first
        assert all(job is not NOT_YET for job in taken)
        self.rounds.append([job.program for job in taken])
        for job in taken:
            status = Status.FAILED if job.program.endswith("-fail") else Status.PASSED
            yield job, Outcome(status, duration_s=1.0)


def second_stage(job: ExecJob, outcome: Outcome) -> ExecJob | None:
    """Stage 1 of a program named ``NAME`` is ``NAME+``, run only if stage 0 passed."""
    if not outcome.passed or job.program.endswith("+"):
        return None
    return ExecJob(job.job_id, job.program + "+", job.limits)


def test_follow_ups_run_in_rounds_on_a_backend_that_cannot_wait(tmp_path: Path) -> None:
    sandbox = RoundsSandbox()
    jobs = [ExecJob("a", "a"), ExecJob("b", "b-fail"), ExecJob("c", "c")]
    with ExecutionCache(tmp_path / "c.sqlite") as cache:
        first = {job.job_id: (job.program, outcome.status, outcome.cached)
                 for job, outcome in execute(jobs, sandbox, cache, follow=second_stage)}
        assert first == {"a": ("a+", Status.PASSED, False), "b": ("b-fail", Status.FAILED, False),
                         "c": ("c+", Status.PASSED, False)}
        # The first round reads every job before any finished: the follow-ups come after.
        assert sandbox.rounds == [["a", "b-fail", "c"], ["a+", "c+"]]
        again = {job.job_id: (job.program, outcome.status, outcome.cached)
                 for job, outcome in execute(jobs, sandbox, cache, follow=second_stage)}
    # Read from the cache, stage by stage: the follow-ups of cached outcomes too.
    assert again == {key: (program, status, True) for key, (program, status, _) in first.items()}
    assert len(sandbox.rounds) == 2


def test_a_twin_is_followed_like_the_job_it_shares_an_outcome_with(tmp_path: Path) -> None:
    sandbox = RoundsSandbox()
    jobs = [ExecJob("x", "same"), ExecJob("y", "same")]
    with ExecutionCache(tmp_path / "c.sqlite") as cache:
        done = {job.job_id: job.program
                for job, _ in execute(jobs, sandbox, cache, follow=second_stage)}
    assert done == {"x": "same+", "y": "same+"}
    assert sorted(p for round_ in sandbox.rounds for p in round_) == ["same", "same+"]


def stamped(name: str, fail: bool = False) -> str:
    """A program that prints when it ran (monotonic across processes)."""
    return (f"import time\nprint({name!r}, time.clock_gettime(time.CLOCK_MONOTONIC))\n"
            f"time.sleep(0.2)\nassert not {fail}\n")


def test_on_the_pool_a_follow_up_runs_before_the_jobs_not_yet_started() -> None:
    started: dict[str, float] = {}

    def note(outcome: Outcome) -> None:
        for line in outcome.stdout.splitlines():
            name, _, when = line.rpartition(" ")
            started[name] = float(when)

    def follow(job: ExecJob, outcome: Outcome) -> ExecJob | None:
        note(outcome)
        if not outcome.passed or "stage 1" in job.program:
            return None
        name = job.job_id
        return ExecJob(name, stamped(f"{name} stage 1", fail=name == "s2") + "#stage 1", LIMITS)

    jobs = [ExecJob(f"s{i}", stamped(f"s{i}"), LIMITS) for i in range(3)]
    with LocalSandbox(workers=1) as sandbox:
        assert sandbox.waits_for_jobs
        for job, outcome in execute(jobs, sandbox, None, follow=follow):
            assert "stage 1" in job.program, job.program  # only last stages are yielded
            assert outcome.passed == (job.job_id != "s2"), outcome
        # Once no first stage is left, the pool waits for the last follow-up (NOT_YET).
        last = list(execute([ExecJob("t", stamped("t"), LIMITS)], sandbox, None,
                            follow=follow))
    assert [job.job_id for job, _ in last] == ["t"] and last[0][1].passed
    assert "t stage 1" in last[0][0].program
    assert set(started) == {"s0", "s1", "s2", "s0 stage 1", "s1 stage 1", "s2 stage 1", "t",
                            "t stage 1"}
    # One worker: each sample's second stage ran before the next sample's first.
    assert started["s0"] < started["s0 stage 1"] < started["s1"] < started["s1 stage 1"] \
        < started["s2"] < started["s2 stage 1"]

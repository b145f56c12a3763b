"""Run jobs through a sandbox with the execution cache, re-running only what load or the
sandbox itself may have decided.

Jobs are read lazily, so a caller can feed them while it is still producing them (samples
executed as they are generated). Cache hits are yielded as soon as they are read
(``Outcome.cached`` is True); identical programs within one call run once when a cache is
given.

Re-runs, and what is cached:

- A timeout is final when the job used up its CPU budget: the program is slow or loops,
  whatever the load. Only a *starved* timeout (``Outcome.starved``: the wall clock ran out
  while the job mostly waited for a CPU) runs once more (``RETRY_TIMEOUTS``); if it is
  starved again it is final for this run but not cached, since load decided it.
- An outcome the sandbox caused (``Outcome.sandbox_fault``: a dead or unhealthy worker, a
  failed set-up, a worker that did not answer) is re-run once by the pool in a fresh
  worker; one that is still a fault is final for this run and never cached.
- Everything else is the program's own verdict and is cached.

Follow-ups: ``follow`` turns a finished job into the next one of the same sample (a
HumanEval+ candidate's plus inputs, once its base inputs passed). A follow-up runs as soon as
it is made, ahead of jobs not yet started, so a slow problem's second stage does not wait for
every other sample's first. Backends that can wait (``Sandbox.waits_for_jobs``) get one
stream of jobs; the others run the follow-ups in rounds, each after the one before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from harness.sandbox.base import NOT_YET, ExecJob, Outcome, Sandbox, Status
from harness.sandbox.cache import ExecutionCache, cache_key

RETRY_TIMEOUTS = 1  # re-runs of a starved timeout

Follow = Callable[[ExecJob, Outcome], "ExecJob | None"]


def cacheable(outcome: Outcome) -> bool:
    """Whether ``outcome`` is the program's own verdict, fit to be reused by later runs."""
    if outcome.sandbox_fault:
        return False
    return not (outcome.status is Status.TIMEOUT and outcome.starved)


@dataclass
class _Feed:
    """The jobs to run, in order: follow-ups first, then the caller's; ``NOT_YET`` while
    only follow-ups of jobs still running can come."""

    jobs: Iterator[ExecJob]
    later: deque[ExecJob]
    running: int = 0  # jobs handed to the sandbox and not finished
    ended: bool = False  # the caller's jobs are all read

    def next_job(self) -> ExecJob | None:
        """The next job, ``NOT_YET``, or None when nothing is left."""
        if self.later:
            return self.later.popleft()
        if not self.ended:
            job = next(self.jobs, None)
            if job is not None:
                return job
            self.ended = True
        return NOT_YET if self.running else None


def execute(
    jobs: Iterable[ExecJob], sandbox: Sandbox, cache: ExecutionCache | None = None,
    finalize: Callable[[ExecJob, Outcome], Outcome] | None = None,
    follow: Follow | None = None,
) -> Iterator[tuple[ExecJob, Outcome]]:
    """Yield each job with its outcome as it finishes (cache hits as soon as they are read).

    ``finalize`` turns the sandbox's outcome into the verdict (call jobs: trusted checking of
    the returned outputs) before it is cached or yielded. ``follow`` may turn a finalized
    outcome into the sample's next job: that job runs, and the outcome is not yielded."""
    identity = sandbox.identity() if cache is not None else ""
    originals: list[ExecJob] = []  # index -> the caller's job
    keys: list[str | None] = []
    ready: deque[tuple[ExecJob, Outcome]] = deque()  # found without running
    running: dict[str, list[ExecJob]] = {}  # key -> later jobs with the same content
    finished: dict[str, Outcome] = {}  # key -> outcome, for twins read after it finished
    feed = _Feed(iter(jobs), deque())

    def followed(job: ExecJob, outcome: Outcome) -> bool:
        """Whether ``outcome`` led to a next job (queued ahead of the caller's)."""
        after = follow(job, outcome) if follow is not None else None
        if after is None:
            return False
        feed.later.append(after)
        return True

    def to_run() -> Iterator[ExecJob]:
        while (job := feed.next_job()) is not None:
            if job is NOT_YET:
                yield job
                continue
            key = None
            if cache is not None:
                key = cache_key(job, identity)
                hit = finished.get(key) or cache.get_key(key)
                if hit is not None:
                    hit = replace(hit, cached=True)
                    if not followed(job, hit):
                        ready.append((job, hit))
                    continue
                if key in running:
                    running[key].append(job)
                    continue
                running[key] = []
            originals.append(job)
            keys.append(key)
            feed.running += 1
            yield replace(job, job_id=str(len(originals) - 1))

    def finish(index: int, outcome: Outcome) -> Iterator[tuple[ExecJob, Outcome]]:
        feed.running -= 1
        key = keys[index]
        if finalize is not None:
            outcome = finalize(originals[index], outcome)
        if cache is not None and key is not None and cacheable(outcome):
            cache.put_key(key, outcome)
            finished[key] = outcome
        if not followed(originals[index], outcome):
            yield originals[index], outcome
        if cache is not None and key is not None:
            # Twins waiting for it share this run's outcome either way; later ones of an
            # outcome not cached run again.
            for twin in running.pop(key, ()):
                shared = replace(outcome, cached=True)
                if not followed(twin, shared):
                    yield twin, shared

    for job, outcome in _run(to_run(), sandbox):
        while ready:
            yield ready.popleft()
        yield from finish(int(job.job_id), outcome)
    while ready:
        yield ready.popleft()


def _run(jobs: Iterator[ExecJob], sandbox: Sandbox) -> Iterator[tuple[ExecJob, Outcome]]:
    """``sandbox.run_retrying`` of ``jobs``, which may hold ``NOT_YET``: passed on to a
    backend that waits for jobs; for the others, each ``NOT_YET`` ends a round, and the next
    round starts once that one's jobs finished."""
    if sandbox.waits_for_jobs:
        yield from sandbox.run_retrying(jobs, retry_timeouts=RETRY_TIMEOUTS)
        return

    def one_round(first: ExecJob) -> Iterator[ExecJob]:
        yield first
        for job in jobs:
            if job is NOT_YET:
                return
            yield job

    # A round starts once the one before finished: its first job is never NOT_YET.
    while (first := next(jobs, None)) is not None:
        if first is NOT_YET:
            raise RuntimeError("NOT_YET while no job is running")
        yield from sandbox.run_retrying(one_round(first), retry_timeouts=RETRY_TIMEOUTS)

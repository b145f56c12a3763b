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
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from harness.sandbox.base import ExecJob, Outcome, Sandbox, Status
from harness.sandbox.cache import ExecutionCache, cache_key

RETRY_TIMEOUTS = 1  # re-runs of a starved timeout


def cacheable(outcome: Outcome) -> bool:
    """Whether ``outcome`` is the program's own verdict, fit to be reused by later runs."""
    if outcome.sandbox_fault:
        return False
    return not (outcome.status is Status.TIMEOUT and outcome.starved)


def execute(
    jobs: Iterable[ExecJob], sandbox: Sandbox, cache: ExecutionCache | None = None,
    finalize: Callable[[ExecJob, Outcome], Outcome] | None = None,
) -> Iterator[tuple[ExecJob, Outcome]]:
    """Yield each job with its outcome as it finishes (cache hits as soon as they are read).

    ``finalize`` turns the sandbox's outcome into the verdict (call jobs: trusted checking of
    the returned outputs) before it is cached or yielded."""
    identity = sandbox.identity() if cache is not None else ""
    originals: list[ExecJob] = []  # index -> the caller's job
    keys: list[str | None] = []
    ready: deque[tuple[ExecJob, Outcome]] = deque()  # found without running
    running: dict[str, list[ExecJob]] = {}  # key -> later jobs with the same content
    finished: dict[str, Outcome] = {}  # key -> outcome, for twins read after it finished

    def to_run() -> Iterator[ExecJob]:
        for job in jobs:
            key = None
            if cache is not None:
                key = cache_key(job, identity)
                hit = finished.get(key) or cache.get_key(key)
                if hit is not None:
                    ready.append((job, replace(hit, cached=True)))
                    continue
                if key in running:
                    running[key].append(job)
                    continue
                running[key] = []
            originals.append(job)
            keys.append(key)
            yield replace(job, job_id=str(len(originals) - 1))

    def finish(index: int, outcome: Outcome) -> Iterator[tuple[ExecJob, Outcome]]:
        key = keys[index]
        if finalize is not None:
            outcome = finalize(originals[index], outcome)
        yield originals[index], outcome
        if cache is not None and key is not None:
            if cacheable(outcome):
                cache.put_key(key, outcome)
                finished[key] = outcome
            # Twins waiting for it share this run's outcome either way; later ones of an
            # outcome not cached run again.
            for twin in running.pop(key, ()):
                yield twin, replace(outcome, cached=True)

    for job, outcome in sandbox.run_retrying(to_run(), retry_timeouts=RETRY_TIMEOUTS):
        while ready:
            yield ready.popleft()
        yield from finish(int(job.job_id), outcome)
    while ready:
        yield ready.popleft()

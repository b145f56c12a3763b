"""Run jobs through a sandbox with the execution cache and one re-run of timeouts.

Jobs are read lazily, so a caller can feed them while it is still producing them (samples
executed as they are generated). Cache hits are yielded as soon as they are read
(``Outcome.cached`` is True); identical programs within one call run once when a cache is
given. A job that times out is run once more before the timeout is final, so that a moment
of load on the machine does not flip a verdict; only final outcomes are stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import replace

from harness.sandbox.base import ExecJob, Outcome, Sandbox
from harness.sandbox.cache import ExecutionCache, cache_key

RETRY_TIMEOUTS = 1


def execute(
    jobs: Iterable[ExecJob], sandbox: Sandbox, cache: ExecutionCache | None = None
) -> Iterator[tuple[ExecJob, Outcome]]:
    """Yield each job with its outcome as it finishes (cache hits as soon as they are read)."""
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
        yield originals[index], outcome
        if cache is not None and key is not None:
            cache.put_key(key, outcome)
            finished[key] = outcome
            for twin in running.pop(key, ()):
                yield twin, replace(outcome, cached=True)

    for job, outcome in sandbox.run_retrying(to_run(), retry_timeouts=RETRY_TIMEOUTS):
        while ready:
            yield ready.popleft()
        yield from finish(int(job.job_id), outcome)
    while ready:
        yield ready.popleft()

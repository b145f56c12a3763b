"""Run jobs through a sandbox with the execution cache and one re-run of timeouts.

Cache hits come first (``Outcome.cached`` is True); identical programs within one call run
once when a cache is given. A job that times out is run once more before the timeout is
final, so that a moment of load on the machine does not flip a verdict; only final
outcomes are stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace

from harness.sandbox.base import ExecJob, Outcome, Sandbox, Status
from harness.sandbox.cache import ExecutionCache, cache_key
from harness.sandbox.pool import PoolSandbox

log = logging.getLogger(__name__)


def execute(
    jobs: Iterable[ExecJob], sandbox: Sandbox, cache: ExecutionCache | None = None
) -> Iterator[tuple[ExecJob, Outcome]]:
    """Yield each job with its outcome as it finishes (cache hits first)."""
    identity = sandbox.identity() if cache is not None else ""
    originals: list[ExecJob] = []  # index -> the caller's job
    keys: list[str | None] = []
    duplicates: dict[str, list[ExecJob]] = {}  # key -> later jobs with the same content
    for job in jobs:
        key = None
        if cache is not None:
            key = cache_key(job, identity)
            hit = cache.get_key(key)
            if hit is not None:
                yield job, hit
                continue
            if key in duplicates:
                duplicates[key].append(job)
                continue
            duplicates[key] = []
        originals.append(job)
        keys.append(key)

    def finish(index: int, outcome: Outcome) -> Iterator[tuple[ExecJob, Outcome]]:
        key = keys[index]
        if cache is not None and key is not None:
            cache.put_key(key, outcome)
        yield originals[index], outcome
        if key is not None:
            for twin in duplicates.get(key, ()):
                yield twin, replace(outcome, cached=True)

    tagged = [replace(job, job_id=str(i)) for i, job in enumerate(originals)]
    if isinstance(sandbox, PoolSandbox):  # re-runs interleaved with the other jobs
        for job, outcome in sandbox.run(tagged, retry_timeouts=1):
            yield from finish(int(job.job_id), outcome)
        return
    timed_out: list[ExecJob] = []
    for job, outcome in sandbox.run(tagged):
        if outcome.status is Status.TIMEOUT:
            timed_out.append(job)
        else:
            yield from finish(int(job.job_id), outcome)
    if timed_out:
        log.debug("re-running %d timed-out jobs once", len(timed_out))
        for job, outcome in sandbox.run(timed_out):
            yield from finish(int(job.job_id), outcome)

"""The ``traced-local`` sandbox: the local sandbox behind a plain :class:`Sandbox` that counts
and logs the jobs it runs.

It subclasses the base ``Sandbox`` (not the worker-pool class), so it relies only on the
public interface: ``run`` plus the optional ``start``/``close``/``identity`` hooks. Timeout
re-runs come from ``Sandbox.run_retrying``'s default.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from harness.sandbox.base import ExecJob, Outcome, Sandbox
from harness.sandbox.local import LocalSandbox

log = logging.getLogger(__name__)


class TracedLocalSandbox(Sandbox):
    name = "traced-local"

    def __init__(self, workers: int = 2) -> None:
        super().__init__(workers)
        self.inner = LocalSandbox(workers)
        self.jobs_run = 0

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        self.inner.close()
        log.info("traced-local: ran %d jobs", self.jobs_run)

    def identity(self) -> str:
        # Outcomes are the local sandbox's, so are the cache keys (plus this name).
        return f"{self.name}:{self.inner.identity()}"

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        for job, outcome in self.inner.run(jobs):
            self.jobs_run += 1
            log.debug("traced-local: %s %s", job.job_id, outcome.status.value)
            yield job, outcome

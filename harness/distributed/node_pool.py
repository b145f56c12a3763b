"""One node's part of a distributed execution: the Ray actor that ``RaySandbox`` places on
each node (a plain class here; ``ray.remote`` wraps it where Ray is imported).

The actor holds that node's own sandbox (bwrap, docker or local, a pool of workers on the
node's cores) and one thread that feeds it from an inbox. The driver sends jobs in batches
(:meth:`NodePool.submit`) and fetches finished outcomes in batches (:meth:`NodePool.poll`),
usually both in one call (:meth:`NodePool.exchange`: the refill for the last answer, then
the next answer). The calls run concurrently (a threaded actor), so jobs sent while a poll
waits are taken at once.

A sandbox run ends only when its job iterator does: the feed blocks while the inbox is
empty, and returns once the driver has said it has nothing more for now (``idle``), so the
last outcomes are not held back. Submissions carry a sequence number because a threaded
actor may execute two of them out of order; only the newest one decides ``idle``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from harness.sandbox import ExecJob, Outcome, Sandbox, open_sandbox

log = logging.getLogger(__name__)

# (tag, status, detail, duration_s, stdout, stderr, calls, cpu_s, starved, sandbox_fault):
# plain tuples pickle several times faster than Outcome dataclasses, which matters at
# thousands of outcomes per second.
Packed = tuple[int, str, str, float, str, str, str | None, float, bool, bool]
CLOSE_TIMEOUT_S = 60.0


def pack(tag: int, outcome: Outcome) -> Packed:
    return (tag, outcome.status.value, outcome.detail, outcome.duration_s, outcome.stdout,
            outcome.stderr, outcome.calls, outcome.cpu_s, outcome.starved,
            outcome.sandbox_fault)


class NodePool:
    """A node's sandbox pool, fed through an inbox by one pump thread."""

    def __init__(self, inner: str | None, workers: int,
                 factory: Callable[[int], Sandbox] | None = None) -> None:
        self.sandbox = factory(workers) if factory is not None else open_sandbox(inner, workers)
        self.sandbox.start()  # fails here (actor creation) when the node cannot run it
        self.workers = workers
        self._cond = threading.Condition()
        self._inbox: deque[ExecJob] = deque()
        self._outbox: list[Packed] = []
        self._idle = True
        self._newest = -1
        self._closing = False
        self._error: str | None = None
        self._pump_thread = threading.Thread(target=self._pump, name="harness-node-pump",
                                             daemon=True)
        self._pump_thread.start()

    def describe(self) -> dict[str, Any]:
        """What the driver checks before using the node (all nodes must give the same
        sandbox identity) and names in messages."""
        from harness.distributed.cluster import node_type

        return {"name": self.sandbox.name, "identity": self.sandbox.identity(),
                "workers": self.workers, "host": socket.gethostname(), "pid": os.getpid(),
                "type": node_type()}

    # ------------------------------------------------------------------ driver calls

    def submit(self, seq: int, jobs: list[ExecJob], idle: bool) -> None:
        """Queue ``jobs`` (``job_id`` is the driver's tag); ``idle``: nothing more for now."""
        with self._cond:
            self._inbox.extend(jobs)
            if seq > self._newest:
                self._newest = seq
                self._idle = idle
            self._cond.notify_all()

    def poll(self, wait_s: float, linger_s: float, max_batch: int) -> list[Packed]:
        """Finished outcomes: waits up to ``wait_s`` for the first, then up to ``linger_s``
        more while fewer than ``max_batch`` are ready (fewer, larger answers), but only as
        long as more than one job per worker waits: with one job each left, the node answers
        at once, so the driver's refill arrives before any worker runs dry."""
        deadline = time.monotonic() + wait_s
        with self._cond:
            while not self._outbox and self._error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            if self._error is not None and not self._outbox:
                raise RuntimeError(self._error)
            until = time.monotonic() + linger_s
            while (len(self._outbox) < max_batch and len(self._inbox) > self.workers
                   and self._error is None):
                remaining = until - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            batch, self._outbox = self._outbox[:max_batch], self._outbox[max_batch:]
            return batch

    def exchange(self, seq: int, jobs: list[ExecJob], idle: bool, wait_s: float,
                 linger_s: float, max_batch: int) -> list[Packed]:
        """:meth:`submit` then :meth:`poll`: the driver's usual call, one per round trip."""
        self.submit(seq, jobs, idle)
        return self.poll(wait_s, linger_s, max_batch)

    def clear(self) -> None:
        """Forget queued jobs (the driver stopped reading); running ones finish unread."""
        with self._cond:
            self._inbox.clear()
            self._idle = True
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._inbox.clear()
            self._cond.notify_all()
        self._pump_thread.join(CLOSE_TIMEOUT_S)
        self.sandbox.close()

    # ------------------------------------------------------------------ the pump thread

    def _pump(self) -> None:
        while True:
            with self._cond:
                while not self._inbox and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
            try:
                for job, outcome in self.sandbox.run(self._feed()):
                    with self._cond:
                        self._outbox.append(pack(int(job.job_id), outcome))
                        self._cond.notify_all()
            except BaseException as exc:  # reported to the driver, which moves the jobs
                log.exception("the %s sandbox failed on this node", self.sandbox.name)
                with self._cond:
                    self._error = f"{type(exc).__name__}: {exc}".strip()
                    self._cond.notify_all()
                return

    def _feed(self) -> Iterator[ExecJob]:
        while True:
            with self._cond:
                while not self._inbox and not self._idle and not self._closing:
                    self._cond.wait()
                if self._closing or not self._inbox:
                    return
                job = self._inbox.popleft()
            yield job

"""A pool of long-lived fork-server workers shared by every isolation backend.

Each worker is ``sandbox/worker.py`` running in a fresh, lean interpreter (never forked from
the harness process, which may hold models and datasets) and speaking length-prefixed JSON
over a Unix socket. Backends differ only in how a worker process is launched: directly
(local), inside bubblewrap, or as ``docker run -i`` of the sandbox image.

The pool keeps every worker busy with one job at a time and yields outcomes as they arrive.

Who may answer: a local or bwrap worker gets its end of a socketpair as an inherited
descriptor, which no other process can reach. A Docker worker must connect to a socket the
pool listens on; that socket lies in a directory only the harness's user can traverse (and
the container, through a bind mount), is not world-writable, and the pool accepts a
connection only from a process whose peer credentials (``SO_PEERCRED``) the backend
recognises as its container's, and which presents a per-worker secret as its first frame.
Anything else is logged and refused, and the pool keeps waiting for the real worker.

Outcomes the sandbox caused (``Outcome.sandbox_fault``): a worker that died during a job,
failed to set up the job's process, sent a malformed frame or did not answer in time is
replaced, and the job runs once more in the fresh worker; should that fail the same way,
the outcome is final (a failure, or a timeout) but keeps ``sandbox_fault`` so that it is
never cached. A worker that reports itself unhealthy after a job (its limits or files
tampered with) is replaced before its next job; that job keeps its own verdict, marked
``sandbox_fault`` (not cached, not used to calibrate), and is not re-run. A timeout is
re-run (``retry_timeouts``) only when the worker says the job was starved of CPU.

Text in frames is untrusted: lone surrogates are replaced, over-long fields are cut, and a
frame that is not valid UTF-8 JSON (or too large) counts as a broken worker.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import selectors
import subprocess
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.io import safe_text
from harness.sandbox.base import NOT_YET, ExecJob, Limits, Outcome, Sandbox, Status
from harness.sandbox.interpreter import Interpreter, sandbox_interpreter
from harness.sandbox.transport import (
    SANDBOX_ENV,
    PeerCred,
    ProtocolError,
    WorkerLaunch,
    WorkerProcess,
    peer_credentials,
)

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
STARTUP_TIMEOUT_S = 120.0  # docker may need this long on a cold, loaded machine
ANSWER_GRACE_S = 5.0  # beyond the job's own timeout before a worker counts as stuck
MAX_FAILED_STARTS = 3
DISCARD_GRACE_S = 2.0  # for a discarded worker to stop its job and exit before it is killed
FAULT_RETRIES = 1  # re-runs, in a fresh worker, of a job whose outcome the sandbox caused
MAX_DETAIL_CHARS = 2000

@cache
def worker_digest() -> str:
    """Changes whenever the worker's code (and so possibly its verdicts) changes."""
    return hashlib.sha256(WORKER_SCRIPT.read_bytes()).hexdigest()[:12]


def limits_message(limits: Limits) -> dict[str, Any]:
    return {**limits.to_dict(), "cpu_s": limits.cpu_s}


class PoolSandbox(Sandbox):
    """A sandbox backend made of ``workers`` fork-server processes.

    Subclasses implement ``launch(slot)``; they may override ``prepare`` (before the first
    worker starts) and ``cleanup`` (after the last one stopped).
    """

    answer_grace_s = ANSWER_GRACE_S
    waits_for_jobs = True

    def __init__(self, workers: int = 2) -> None:
        if workers < 1:
            raise HarnessError(f"the sandbox needs at least 1 worker, got {workers}")
        super().__init__(workers)
        self._pool: list[WorkerProcess] = []
        self._selector: selectors.BaseSelector | None = None
        self._seq = 0
        self._failed_starts = 0

    # ------------------------------------------------------------------ subclass hooks

    @abstractmethod
    def launch(self, slot: int) -> WorkerLaunch:
        """The command and config of the worker in ``slot``."""

    def prepare(self) -> None:
        """Called once before the first worker starts."""

    def cleanup(self) -> None:
        """Called once after all workers stopped (also on errors)."""

    def connected(self, worker: WorkerProcess) -> None:
        """Called once ``worker`` is connected (and, for a socket, authenticated)."""

    def forget(self, worker: WorkerProcess) -> None:
        """Called after a worker was discarded (broken, or abandoned mid-job) or had to be
        killed, to remove what it may have left behind: files, its job's processes."""

    @cached_property
    def interpreter(self) -> Interpreter:
        """The host interpreter that workers run under (backends that start them on the host)."""
        return sandbox_interpreter()

    def identity(self) -> str:
        return f"{self.name}:{self.interpreter.identity()}:{worker_digest()}"

    # ------------------------------------------------------------------ lifecycle

    @property
    def started(self) -> bool:
        return self._selector is not None

    def start(self) -> None:
        if self.started:
            return
        self.prepare()
        self._selector = selectors.DefaultSelector()
        try:
            fresh = [self._spawn(slot) for slot in range(self.workers)]
            self._await_ready(fresh)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        selector, self._selector = self._selector, None
        pool, self._pool = self._pool, []
        try:
            for worker in pool:
                worker.hang_up()
            for worker in pool:
                if not worker.stop():
                    self.forget(worker)
            if selector is not None:
                selector.close()
        finally:
            self.cleanup()

    def _spawn(self, slot: int) -> WorkerProcess:
        try:
            worker = WorkerProcess(slot, self.launch(slot))
        except OSError as exc:
            raise HarnessError(f"cannot start a {self.name} sandbox worker: {exc}") from exc
        self._pool.append(worker)
        return worker

    def _failed_to_start(self, worker: WorkerProcess, reason: str) -> HarnessError:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.proc.wait(timeout=5)
        detail = worker.stderr_tail() or reason
        return HarnessError(f"{self.name} sandbox worker failed to start: {detail}")

    def _await_ready(self, fresh: list[WorkerProcess]) -> None:
        """Connect the fresh workers, wait for their ready frames, then take them in."""
        assert self._selector is not None
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        for worker in fresh:
            try:
                worker.connect(deadline)
            except (OSError, TimeoutError) as exc:
                raise self._failed_to_start(worker, str(exc)) from exc
            self.connected(worker)
        waiting = {w.fd: w for w in fresh}
        with selectors.DefaultSelector() as selector:
            for worker in fresh:
                selector.register(worker.fd, selectors.EVENT_READ)
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(
                        f"{self.name} sandbox workers did not start within "
                        f"{STARTUP_TIMEOUT_S:g}s"
                    )
                for key, _ in selector.select(remaining):
                    worker = waiting[key.fd]
                    try:
                        frames = worker.read_frames()
                    except ProtocolError as exc:
                        raise self._failed_to_start(worker, f"it sent {exc}") from exc
                    if frames is None:
                        raise self._failed_to_start(worker, "it exited")
                    if frames:
                        worker.info = frames[0]
                        selector.unregister(key.fd)
                        del waiting[key.fd]
        for worker in fresh:
            self._selector.register(worker.fd, selectors.EVENT_READ, worker)

    def _replace(self, worker: WorkerProcess, reason: str) -> WorkerProcess:
        """Kill ``worker`` and start a new one in its slot."""
        assert self._selector is not None
        log.debug("replacing sandbox worker %d: %s", worker.slot, reason)
        self._discard(worker)
        fresh = self._spawn(worker.slot)
        try:
            self._await_ready([fresh])
        except HarnessError:
            self._failed_starts += 1
            if self._failed_starts >= MAX_FAILED_STARTS:
                raise
            return self._replace(fresh, "failed to start")
        self._failed_starts = 0
        return fresh

    # ------------------------------------------------------------------ running jobs

    def _refill(self) -> None:
        """Start workers for slots left empty (a failed replacement)."""
        taken = {w.slot for w in self._pool}
        fresh = [self._spawn(slot) for slot in range(self.workers) if slot not in taken]
        if fresh:
            self._await_ready(fresh)

    def run(
        self, jobs: Iterable[ExecJob], *, retry_timeouts: int = 0
    ) -> Iterator[tuple[ExecJob, Outcome]]:
        """Yield each job with its outcome as it finishes.

        A job whose outcome the sandbox caused runs once more, in the fresh worker that
        replaced the broken one; a timeout the worker calls starved (it waited for a CPU
        rather than using up its own) runs up to ``retry_timeouts`` more times, interleaved
        with the others, before it is final."""
        self.start()
        assert self._selector is not None
        self._refill()
        pending = iter(jobs)
        exhausted = False
        # (job, chances left after this run, the fresh worker it should go to)
        retries: deque[tuple[ExecJob, _Chances, WorkerProcess | None]] = deque()
        chances: dict[int, _Chances] = {}  # seq -> chances left for the job sent with it
        idle = list(self._pool)
        busy: dict[int, WorkerProcess] = {}  # socket fd -> worker with a job
        try:
            while True:
                while idle and (retries or not exhausted):
                    if retries:
                        job, left, fresh = retries.popleft()
                        worker = fresh if fresh is not None and fresh in idle else idle[-1]
                        idle.remove(worker)
                    else:
                        next_job = next(pending, None)
                        if next_job is None:
                            exhausted = True
                            break
                        if next_job is NOT_YET:  # one will come after a job finished
                            if not busy:
                                raise RuntimeError("NOT_YET while no job is running")
                            break
                        job, left = next_job, _Chances(retry_timeouts, FAULT_RETRIES)
                        worker = idle.pop()
                    outcome = self._dispatch(worker, job)
                    if outcome is None:
                        busy[worker.fd] = worker
                        chances[self._seq] = left
                        continue
                    # Died before taking the job.
                    worker = self._replace(worker, "connection closed")
                    idle.append(worker)
                    if left.faults > 0:
                        retries.appendleft((job, replace(left, faults=left.faults - 1), worker))
                    else:
                        yield job, outcome
                if not busy:
                    return
                for done in self._collect(busy):
                    job, outcome, worker = done.job, done.outcome, done.worker
                    del busy[worker.fd]
                    if done.replace_worker:
                        worker = self._replace(worker, outcome.detail)
                    idle.append(worker)
                    left = chances.pop(done.seq, _Chances(0, 0))
                    if done.rerun and left.faults > 0:
                        retries.appendleft((job, replace(left, faults=left.faults - 1), worker))
                        continue
                    if (outcome.status is Status.TIMEOUT and outcome.starved
                            and not outcome.sandbox_fault and left.timeouts > 0):
                        retries.append((job, replace(left, timeouts=left.timeouts - 1), None))
                        continue
                    yield job, outcome
        finally:
            # Abandoned mid-run (or an error, Ctrl-C): the busy workers' answers are stale.
            # Hung up, they stop their jobs' processes and exit; all at once, then waited for.
            for worker in busy.values():
                worker.hang_up()
            for worker in list(busy.values()):
                self._discard(worker)

    def run_retrying(
        self, jobs: Iterable[ExecJob], retry_timeouts: int
    ) -> Iterator[tuple[ExecJob, Outcome]]:
        # Re-runs go to the next free worker, interleaved with the jobs not yet started.
        return self.run(jobs, retry_timeouts=retry_timeouts)

    def _discard(self, worker: WorkerProcess) -> None:
        """Stop ``worker`` for good: hung up, a live worker stops its job's processes and
        exits; one that does not within ``DISCARD_GRACE_S`` is killed, and the backend's
        ``forget`` removes what it leaves behind."""
        if self._selector is not None and worker.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(worker.sock)
        if worker in self._pool:
            self._pool.remove(worker)
        worker.stop(timeout=DISCARD_GRACE_S)
        self.forget(worker)

    def _dispatch(self, worker: WorkerProcess, job: ExecJob) -> Outcome | None:
        self._seq += 1
        deadline = time.monotonic() + job.limits.timeout_s + self.answer_grace_s
        worker.job = (self._seq, job, deadline)
        message = {"seq": self._seq, "program": job.program, "limits": limits_message(job.limits)}
        if job.libraries is not None:
            message["libraries"] = sorted(job.libraries)
        if job.calls is not None:
            limits = job.calls.cpu_limits
            message["calls"] = {"inputs": job.calls.wire_inputs,
                                "cpu_limits": None if limits is None else list(limits),
                                "digest_above": job.calls.digest_above}
        if worker.send(message):
            return None
        worker.job = None
        return Outcome(Status.FAILED, "sandbox worker died before the job started",
                       sandbox_fault=True)

    def _collect(self, busy: dict[int, WorkerProcess]) -> list[_Done]:
        """Wait for at least one busy worker to answer, die or overrun its deadline."""
        assert self._selector is not None
        now = time.monotonic()
        nearest = min(w.job[2] for w in busy.values() if w.job is not None)
        done = []
        for key, _ in self._selector.select(max(0.0, nearest - now)):
            worker = busy.get(key.fd)
            if worker is None or worker.job is None:
                continue
            seq, job, _ = worker.job
            try:
                frames = worker.read_frames()
                answer = next((f for f in frames or () if f.get("seq") == seq), None)
                outcome = None if answer is None else self._vetted(worker, job, answer)
            except ProtocolError as exc:
                log.warning("%s sandbox worker %d sent %s; replacing it", self.name,
                            worker.slot, exc)
                worker.job = None
                detail = "sandbox worker broke the protocol and was replaced"
                done.append(_Done(worker, seq, job, _fault(Status.FAILED, detail), True, True))
                continue
            if frames is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=10)
                detail = "sandbox worker died during the job (the program killed it?)"
                if worker.stderr_tail():  # normally empty: the worker itself went wrong
                    log.warning("%s sandbox worker %d ended with: %s", self.name, worker.slot,
                                worker.stderr_tail())
                done.append(_Done(worker, seq, job, _fault(Status.FAILED, detail), True, True))
                worker.job = None
                continue
            if outcome is not None and answer is not None:
                worker.job = None
                unhealthy = answer.get("unhealthy")
                if unhealthy:
                    # The job's own verdict, but not one to cache: its worker is suspect.
                    log.warning("%s sandbox worker %d is unhealthy after a job (%s); "
                                "replacing it", self.name, worker.slot,
                                safe_text(str(unhealthy))[:MAX_DETAIL_CHARS])
                    outcome = replace(outcome, sandbox_fault=True)
                    done.append(_Done(worker, seq, job, outcome, True, False))
                elif outcome.sandbox_fault or _setup_failed(outcome):
                    log.warning("%s sandbox worker %d: %s (running the job again in a "
                                "fresh worker)", self.name, worker.slot, outcome.detail)
                    outcome = replace(outcome, sandbox_fault=True)
                    done.append(_Done(worker, seq, job, outcome, True, True))
                else:
                    done.append(_Done(worker, seq, job, outcome, False, False))
        now = time.monotonic()
        for worker in busy.values():
            if worker.job is not None and worker.job[2] <= now:
                seq, job, _ = worker.job
                worker.job = None
                detail = "sandbox worker did not answer in time and was replaced"
                done.append(_Done(worker, seq, job, _fault(Status.TIMEOUT, detail), True, True))
        return done

    def _vetted(self, worker: WorkerProcess, job: ExecJob, frame: dict[str, Any]) -> Outcome:
        """The outcome a result frame reports, with every text safe to store and show."""
        try:
            outcome = outcome_from_frame(frame)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise ProtocolError(f"a result frame that does not parse ({exc!r})") from exc
        text_cap = job.limits.max_output_bytes + 256  # the worker's cap plus its note
        calls = outcome.calls
        if calls is not None:
            calls = safe_text(str(calls))
        return replace(
            outcome,
            detail=_clean(outcome.detail, MAX_DETAIL_CHARS),
            stdout=_clean(outcome.stdout, text_cap),
            stderr=_clean(outcome.stderr, text_cap),
            calls=calls,
            duration_s=_seconds(outcome.duration_s),
            cpu_s=_seconds(frame.get("cpu_s", outcome.cpu_s)),
            starved=frame.get("starved", outcome.starved) is True,
            sandbox_fault=outcome.sandbox_fault is True,
        )


@dataclass(frozen=True)
class _Chances:
    timeouts: int  # re-runs left for a starved timeout
    faults: int  # re-runs left after an outcome the sandbox caused


@dataclass(frozen=True)
class _Done:
    """A job's answer (or the lack of one) from a busy worker."""

    worker: WorkerProcess
    seq: int
    job: ExecJob
    outcome: Outcome
    replace_worker: bool  # it died, broke, or cannot be trusted with another job
    rerun: bool  # the sandbox caused the outcome: run the job again in a fresh worker


def _fault(status: Status, detail: str) -> Outcome:
    return Outcome(status, detail, sandbox_fault=True)


# A program that exits 0 with a garbled completion report is most likely forging one, but a
# glitch of the worker's pipes looks the same: run it again in a fresh worker, never cache it.
_SUSPECT_FAILURES = ("exited with code 0 without a valid completion report",
                     "outputs cut short")


def _setup_failed(outcome: Outcome) -> bool:
    """The worker could not set up the job's process (its "sandbox: ..." errors), or the
    job's report reached it garbled."""
    if outcome.status is Status.ERROR and outcome.detail.startswith("sandbox:"):
        return True
    return outcome.status is Status.FAILED and outcome.detail.startswith(_SUSPECT_FAILURES)


def _clean(text: object, limit: int) -> str:
    text = safe_text(str(text))
    if len(text) > limit:
        text = text[:limit] + f"\n[... {len(text) - limit} more characters not kept]"
    return text


def _seconds(value: object) -> float:
    """A duration from a frame: a finite number of seconds, else 0."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 0.0


def outcome_from_frame(frame: dict[str, Any]) -> Outcome:
    calls = frame.get("calls")
    return Outcome(
        status=Status(frame["status"]),
        detail=str(frame.get("detail", "")),
        duration_s=float(frame.get("duration_s", 0.0)),
        stdout=str(frame.get("stdout", "")),
        stderr=str(frame.get("stderr", "")),
        calls=calls if isinstance(calls, str) else None,
        cpu_s=_seconds(frame.get("cpu_s", 0.0)),
        starved=frame.get("starved") is True,
    )


__all__ = ["SANDBOX_ENV", "WORKER_SCRIPT", "PeerCred", "PoolSandbox", "WorkerLaunch",
           "WorkerProcess", "limits_message", "outcome_from_frame", "peer_credentials",
           "worker_digest"]

"""A pool of long-lived fork-server workers shared by every isolation backend.

Each worker is ``sandbox/worker.py`` running in a fresh, lean interpreter (never forked from
the harness process, which may hold models and datasets) and speaking length-prefixed JSON
over its stdin/stdout. Backends differ only in how a worker process is launched: directly
(local), inside bubblewrap, or as ``docker run -i`` of the sandbox image.

The pool keeps every worker busy with one job at a time, yields outcomes as they arrive,
replaces a worker that dies (the job counts as failed), and kills a worker that stops
answering (the job counts as a timeout).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import selectors
import struct
import subprocess
import sys
import tempfile
import time
from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError
from harness.sandbox.base import ExecJob, Limits, Outcome, Sandbox, Status

log = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).resolve().with_name("worker.py")
HEADER = struct.Struct(">I")
STARTUP_TIMEOUT_S = 120.0  # docker may need this long on a cold, loaded machine
ANSWER_GRACE_S = 5.0  # beyond the job's own timeout before a worker counts as stuck
MAX_FAILED_STARTS = 3

# The environment of workers and of the programs they run: nothing from the harness's own
# environment (API keys, tokens) reaches generated code.
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "PYTHONHASHSEED": "0",  # same str hashes (set order) in every run: reproducible verdicts
    "PYTHONDONTWRITEBYTECODE": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@cache
def worker_digest() -> str:
    """Changes whenever the worker's code (and so possibly its verdicts) changes."""
    return hashlib.sha256(WORKER_SCRIPT.read_bytes()).hexdigest()[:12]


def limits_message(limits: Limits) -> dict[str, Any]:
    return {**limits.to_dict(), "cpu_s": limits.cpu_s}


@dataclass
class WorkerLaunch:
    """How to start one worker process, and the config frame it receives first."""

    argv: list[str]
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_ENV))
    pass_fds: tuple[int, ...] = ()
    name: str = ""  # what the backend calls it (the container name)


class WorkerProcess:
    """One running worker: a subprocess plus a frame reader on its stdout."""

    def __init__(self, slot: int, launch: WorkerLaunch) -> None:
        self.slot = slot
        self.name = launch.name
        self.stderr: IO[bytes] = tempfile.TemporaryFile(prefix="harness-worker-")  # noqa: SIM115
        self.proc = subprocess.Popen(
            launch.argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=launch.env,
            pass_fds=launch.pass_fds,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the harness only
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin = self.proc.stdin
        self.stdout_fd = self.proc.stdout.fileno()
        os.set_blocking(self.stdout_fd, False)
        self.buffer = bytearray()
        self.info: dict[str, Any] = {}
        self.job: tuple[int, ExecJob, float] | None = None  # (seq, job, deadline)
        self.send(launch.config)

    def send(self, message: dict[str, Any]) -> bool:
        body = json.dumps(message).encode("utf-8")
        try:
            self.stdin.write(HEADER.pack(len(body)) + body)
            self.stdin.flush()
        except (BrokenPipeError, OSError):
            return False
        return True

    def read_frames(self) -> list[dict[str, Any]] | None:
        """Frames that are complete so far; None once the worker has closed its stdout."""
        eof = False
        while True:
            try:
                chunk = os.read(self.stdout_fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                eof = True
                break
            self.buffer += chunk
        frames = []
        while len(self.buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self.buffer)
            if len(self.buffer) < HEADER.size + size:
                break
            body = bytes(self.buffer[HEADER.size : HEADER.size + size])
            del self.buffer[: HEADER.size + size]
            frames.append(json.loads(body))
        if eof and not frames:
            return None
        return frames

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            self.stderr.seek(0)
            text = self.stderr.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        return text[-limit:].strip()

    def stop(self, timeout: float = 5.0) -> None:
        """Close stdin (the worker exits after its current job); kill if it lingers."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self.close_files()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            log.warning("sandbox worker %d (pid %d) did not die", self.slot, self.proc.pid)
        self.close_files()

    def close_files(self) -> None:
        for handle in (self.stdin, self.proc.stdout, self.stderr):
            try:
                if handle is not None:
                    handle.close()
            except OSError:
                pass


class PoolSandbox(Sandbox):
    """A sandbox backend made of ``workers`` fork-server processes.

    Subclasses implement ``launch(slot)``; they may override ``prepare`` (before the first
    worker starts) and ``cleanup`` (after the last one stopped).
    """

    answer_grace_s = ANSWER_GRACE_S

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

    def forget(self, worker: WorkerProcess) -> None:
        """Called after a broken worker was killed, to remove what it leaves behind."""

    def identity(self) -> str:
        return f"{self.name}:py{sys.version_info[0]}.{sys.version_info[1]}:{worker_digest()}"

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
                with contextlib.suppress(OSError):
                    worker.stdin.close()
            for worker in pool:
                worker.stop()
            if selector is not None:
                selector.close()
        finally:
            self.cleanup()

    def _spawn(self, slot: int) -> WorkerProcess:
        assert self._selector is not None
        try:
            worker = WorkerProcess(slot, self.launch(slot))
        except OSError as exc:
            raise HarnessError(f"cannot start a {self.name} sandbox worker: {exc}") from exc
        self._pool.append(worker)
        self._selector.register(worker.stdout_fd, selectors.EVENT_READ, worker)
        return worker

    def _await_ready(self, fresh: list[WorkerProcess]) -> None:
        waiting = {w.stdout_fd: w for w in fresh}
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            for worker in fresh:
                selector.register(worker.stdout_fd, selectors.EVENT_READ)
            while waiting:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise HarnessError(
                        f"{self.name} sandbox workers did not start within "
                        f"{STARTUP_TIMEOUT_S:g}s"
                    )
                for key, _ in selector.select(remaining):
                    worker = waiting[key.fd]
                    frames = worker.read_frames()
                    if frames is None:
                        worker.proc.wait()
                        detail = worker.stderr_tail() or f"exit code {worker.proc.returncode}"
                        raise HarnessError(
                            f"{self.name} sandbox worker failed to start: {detail}"
                        )
                    if frames:
                        worker.info = frames[0]
                        selector.unregister(key.fd)
                        del waiting[key.fd]

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

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        self.start()
        assert self._selector is not None
        self._refill()
        pending = iter(jobs)
        exhausted = False
        idle = list(self._pool)
        busy: dict[int, WorkerProcess] = {}  # stdout fd -> worker with a job
        try:
            while True:
                while idle and not exhausted:
                    job = next(pending, None)
                    if job is None:
                        exhausted = True
                        break
                    worker = idle.pop()
                    outcome = self._dispatch(worker, job)
                    if outcome is not None:  # died before taking the job
                        idle.append(self._replace(worker, "stdin closed"))
                        yield job, outcome
                    else:
                        busy[worker.stdout_fd] = worker
                if not busy:
                    return
                for worker, job, outcome, broken in self._collect(busy):
                    del busy[worker.stdout_fd]
                    if broken:
                        worker = self._replace(worker, outcome.detail)
                    idle.append(worker)
                    yield job, outcome
        finally:
            # Abandoned mid-run (or an error): the busy workers' answers are stale.
            for worker in list(busy.values()):
                self._discard(worker)

    def _discard(self, worker: WorkerProcess) -> None:
        if self._selector is not None:
            self._selector.unregister(worker.stdout_fd)
        if worker in self._pool:
            self._pool.remove(worker)
        worker.kill()
        self.forget(worker)

    def _dispatch(self, worker: WorkerProcess, job: ExecJob) -> Outcome | None:
        self._seq += 1
        deadline = time.monotonic() + job.limits.timeout_s + self.answer_grace_s
        worker.job = (self._seq, job, deadline)
        message = {"seq": self._seq, "program": job.program, "limits": limits_message(job.limits)}
        if worker.send(message):
            return None
        worker.job = None
        return Outcome(Status.FAILED, "sandbox worker died before the job started")

    def _collect(
        self, busy: dict[int, WorkerProcess]
    ) -> list[tuple[WorkerProcess, ExecJob, Outcome, bool]]:
        """Wait for at least one busy worker to answer, die or overrun its deadline.

        Returns (worker, job, outcome, broken): a broken worker must be replaced."""
        assert self._selector is not None
        now = time.monotonic()
        nearest = min(w.job[2] for w in busy.values() if w.job is not None)
        done = []
        for key, _ in self._selector.select(max(0.0, nearest - now)):
            worker = busy.get(key.fd)
            if worker is None or worker.job is None:
                continue
            seq, job, _ = worker.job
            frames = worker.read_frames()
            if frames is None:
                worker.proc.wait()
                detail = "sandbox worker died during the job (the program killed it?)"
                if worker.stderr_tail():
                    log.debug("worker %d stderr: %s", worker.slot, worker.stderr_tail())
                done.append((worker, job, Outcome(Status.FAILED, detail), True))
                worker.job = None
                continue
            for frame in frames:
                if frame.get("seq") == seq:
                    done.append((worker, job, outcome_from_frame(frame), False))
                    worker.job = None
                    break
        now = time.monotonic()
        for worker in busy.values():
            if worker.job is not None and worker.job[2] <= now:
                _, job, _ = worker.job
                worker.job = None
                detail = "sandbox worker did not answer in time and was replaced"
                done.append((worker, job, Outcome(Status.TIMEOUT, detail), True))
        return done


def outcome_from_frame(frame: dict[str, Any]) -> Outcome:
    return Outcome(
        status=Status(frame["status"]),
        detail=str(frame.get("detail", "")),
        duration_s=float(frame.get("duration_s", 0.0)),
        stdout=str(frame.get("stdout", "")),
        stderr=str(frame.get("stderr", "")),
    )

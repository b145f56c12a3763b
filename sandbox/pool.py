"""A pool of long-lived fork-server workers shared by every isolation backend.

Each worker is ``sandbox/worker.py`` running in a fresh, lean interpreter (never forked from
the harness process, which may hold models and datasets) and speaking length-prefixed JSON
over a Unix socket. Backends differ only in how a worker process is launched: directly
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
import socket
import struct
import subprocess
import tempfile
import time
from abc import abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import IO, Any

from harness.errors import HarnessError
from harness.sandbox.base import ExecJob, Limits, Outcome, Sandbox, Status
from harness.sandbox.interpreter import Interpreter, sandbox_interpreter

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
    """How to start one worker process, and the config frame it receives first.

    The transport is a Unix stream socket, never the worker's stdin/stdout (which a program
    of the same uid could reopen through /proc). By default it is one end of a socketpair,
    passed to the worker as an inherited descriptor whose number replaces ``{fd}`` in
    ``argv``. With ``socket_path`` (Docker: no descriptor crosses into a container) the pool
    listens there, the worker connects, and the path is removed once it is connected.
    """

    argv: list[str]
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_ENV))
    socket_path: str | None = None
    name: str = ""  # what the backend calls it (the container name)


class WorkerProcess:
    """One running worker: a subprocess and a framed socket to it."""

    def __init__(self, slot: int, launch: WorkerLaunch) -> None:
        self.slot = slot
        self.name = launch.name
        self.config = launch.config
        self.socket_path = launch.socket_path
        self.stderr: IO[bytes] = tempfile.TemporaryFile(prefix="harness-worker-")  # noqa: SIM115
        self.buffer = bytearray()
        self.info: dict[str, Any] = {}
        self.job: tuple[int, ExecJob, float] | None = None  # (seq, job, deadline)
        self.sock: socket.socket | None = None
        self.listener: socket.socket | None = None
        argv = launch.argv
        pass_fds: tuple[int, ...] = ()
        theirs = None
        if launch.socket_path is None:
            self.sock, theirs = socket.socketpair()
            argv = [arg.replace("{fd}", str(theirs.fileno())) for arg in argv]
            pass_fds = (theirs.fileno(),)
        else:
            self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.listener.bind(launch.socket_path)
            os.chmod(launch.socket_path, 0o666)  # the worker's uid must be able to connect
            self.listener.listen(1)
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                env=launch.env,
                pass_fds=pass_fds,
                start_new_session=True,  # a Ctrl-C in the terminal reaches the harness only
            )
        except OSError:
            self.close_files()
            raise
        finally:
            if theirs is not None:
                theirs.close()

    @property
    def fd(self) -> int:
        assert self.sock is not None, "worker not connected"
        return self.sock.fileno()

    def connect(self, deadline: float) -> None:
        """Accept the worker's connection (socket_path transport) and send its config."""
        if self.sock is None:
            assert self.listener is not None and self.socket_path is not None
            while self.sock is None:
                if self.proc.poll() is not None:
                    raise ConnectionError(f"exit code {self.proc.returncode}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the worker did not connect")
                self.listener.settimeout(min(remaining, 0.25))
                try:
                    self.sock, _ = self.listener.accept()
                except TimeoutError:
                    continue
            self.sock.settimeout(None)
            self._remove_listener()
        if not self.send(self.config):
            raise ConnectionError("the worker closed its connection")

    def _remove_listener(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.socket_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(self.socket_path))

    def send(self, message: dict[str, Any]) -> bool:
        body = json.dumps(message).encode("utf-8")
        try:
            assert self.sock is not None
            self.sock.sendall(HEADER.pack(len(body)) + body)
        except OSError:
            return False
        return True

    def read_frames(self) -> list[dict[str, Any]] | None:
        """Frames that are complete so far; None once the worker has closed its end."""
        assert self.sock is not None
        eof = False
        while True:
            try:
                chunk = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            except OSError:
                eof = True
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

    def hang_up(self) -> None:
        """Close our end: the worker stops its current job and exits."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    def stop(self, timeout: float = 5.0) -> None:
        """Hang up and wait for the worker to exit; kill it if it lingers."""
        self.hang_up()
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
        self._remove_listener()
        for handle in (self.sock, self.stderr):
            with contextlib.suppress(OSError):
                if handle is not None:
                    handle.close()


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
                worker.stop()
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
                    frames = worker.read_frames()
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
        """Yield each job with its outcome as it finishes. A job that times out is run up to
        ``retry_timeouts`` more times (interleaved with the others) before that is final."""
        self.start()
        assert self._selector is not None
        self._refill()
        pending = iter(jobs)
        exhausted = False
        retries: deque[tuple[ExecJob, int]] = deque()  # (job, retries left after this run)
        chances: dict[int, int] = {}  # seq -> retries left for the job sent with it
        idle = list(self._pool)
        busy: dict[int, WorkerProcess] = {}  # socket fd -> worker with a job
        try:
            while True:
                while idle and (retries or not exhausted):
                    if retries:
                        job, left = retries.popleft()
                    else:
                        next_job = next(pending, None)
                        if next_job is None:
                            exhausted = True
                            break
                        job, left = next_job, retry_timeouts
                    worker = idle.pop()
                    outcome = self._dispatch(worker, job)
                    if outcome is not None:  # died before taking the job
                        idle.append(self._replace(worker, "connection closed"))
                        yield job, outcome
                    else:
                        busy[worker.fd] = worker
                        chances[self._seq] = left
                if not busy:
                    return
                for worker, seq, job, outcome, broken in self._collect(busy):
                    del busy[worker.fd]
                    if broken:
                        worker = self._replace(worker, outcome.detail)
                    idle.append(worker)
                    left = chances.pop(seq, 0)
                    if outcome.status is Status.TIMEOUT and left > 0:
                        retries.append((job, left - 1))
                        continue
                    yield job, outcome
        finally:
            # Abandoned mid-run (or an error): the busy workers' answers are stale.
            for worker in list(busy.values()):
                self._discard(worker)

    def run_retrying(
        self, jobs: Iterable[ExecJob], retry_timeouts: int
    ) -> Iterator[tuple[ExecJob, Outcome]]:
        # Re-runs go to the next free worker, interleaved with the jobs not yet started.
        return self.run(jobs, retry_timeouts=retry_timeouts)

    def _discard(self, worker: WorkerProcess) -> None:
        if self._selector is not None and worker.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(worker.sock)
        if worker in self._pool:
            self._pool.remove(worker)
        worker.kill()
        self.forget(worker)

    def _dispatch(self, worker: WorkerProcess, job: ExecJob) -> Outcome | None:
        self._seq += 1
        deadline = time.monotonic() + job.limits.timeout_s + self.answer_grace_s
        worker.job = (self._seq, job, deadline)
        message = {"seq": self._seq, "program": job.program, "limits": limits_message(job.limits)}
        if job.libraries is not None:
            message["libraries"] = sorted(job.libraries)
        if worker.send(message):
            return None
        worker.job = None
        return Outcome(Status.FAILED, "sandbox worker died before the job started")

    def _collect(
        self, busy: dict[int, WorkerProcess]
    ) -> list[tuple[WorkerProcess, int, ExecJob, Outcome, bool]]:
        """Wait for at least one busy worker to answer, die or overrun its deadline.

        Returns (worker, seq, job, outcome, broken): a broken worker must be replaced."""
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
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.proc.wait(timeout=10)
                detail = "sandbox worker died during the job (the program killed it?)"
                if worker.stderr_tail():  # normally empty: the worker itself went wrong
                    log.warning("%s sandbox worker %d ended with: %s", self.name, worker.slot,
                                worker.stderr_tail())
                done.append((worker, seq, job, Outcome(Status.FAILED, detail), True))
                worker.job = None
                continue
            for frame in frames:
                if frame.get("seq") == seq:
                    done.append((worker, seq, job, outcome_from_frame(frame), False))
                    worker.job = None
                    break
        now = time.monotonic()
        for worker in busy.values():
            if worker.job is not None and worker.job[2] <= now:
                seq, job, _ = worker.job
                worker.job = None
                detail = "sandbox worker did not answer in time and was replaced"
                done.append((worker, seq, job, Outcome(Status.TIMEOUT, detail), True))
        return done


def outcome_from_frame(frame: dict[str, Any]) -> Outcome:
    return Outcome(
        status=Status(frame["status"]),
        detail=str(frame.get("detail", "")),
        duration_s=float(frame.get("duration_s", 0.0)),
        stdout=str(frame.get("stdout", "")),
        stderr=str(frame.get("stderr", "")),
    )

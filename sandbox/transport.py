"""The worker processes of the sandbox pool and the socket to each: how one is started,
how the pool makes sure that whoever answers on a socket is that worker, and the framing.

Two transports. By default one end of a socketpair, passed to the worker as an inherited
descriptor: it has no path, so no other process can connect to it. For Docker (no
descriptor crosses into a container) the pool listens on a socket path in a directory the
backend made private, and accepts a connection only from a process that passes the
backend's peer check (``SO_PEERCRED``) and presents the per-worker secret, which the pool
writes to the worker's stdin, as its first frame; anything else is logged and refused while
the pool keeps waiting for the real worker.

Frames are 4-byte big-endian lengths and UTF-8 JSON objects. A frame larger than the
current job allows, or one that is not a JSON object, raises ``ProtocolError``.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import queue
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cache
from typing import IO, Any, cast

from harness.sandbox.base import ExecJob

log = logging.getLogger(__name__)

HEADER = struct.Struct(">I")
AUTH_TIMEOUT_S = 5.0  # for a process connecting to a worker socket to present its secret
MAX_AUTH_FRAME = 4096
STARTUP_FRAME_BYTES = 1 << 20  # the largest frame before the first job (the ready frame)
UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
PR_SET_PDEATHSIG = 1

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


@dataclass(frozen=True)
class PeerCred:
    """Who is at the other end of a Unix socket (``SO_PEERCRED``, in our namespaces)."""

    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCred:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size)
    return PeerCred(*UCRED.unpack(raw))


@dataclass
class WorkerLaunch:
    """How to start one worker process, and the config frame it receives first.

    The transport is a Unix stream socket, never the worker's stdin/stdout (which a program
    of the same uid could reopen through /proc). By default it is one end of a socketpair,
    passed to the worker as an inherited descriptor whose number replaces ``{fd}`` in
    ``argv``: no other process can reach it. With ``socket_path`` (Docker: no descriptor
    crosses into a container) the pool listens there, in a directory the backend made
    private, and takes the first connection that passes ``verify_peer`` and presents
    ``secret``; the path is removed once it is connected.
    """

    argv: list[str]
    config: dict[str, Any]
    env: dict[str, str] = field(default_factory=lambda: dict(SANDBOX_ENV))
    socket_path: str | None = None
    name: str = ""  # what the backend calls it (the container name)
    # socket_path transport: what the worker must send as its first frame, {"secret": ...};
    # the pool writes it, one line, to the worker's stdin (a pipe only we hold) and closes it.
    secret: str | None = None
    # socket_path transport: why a connecting process is not this worker (None: it may be).
    verify_peer: Callable[[PeerCred], str | None] | None = None
    socket_mode: int = 0o600
    socket_owner: tuple[int, int] | None = None  # (uid, gid) the socket is handed to
    # Sent to the worker when the thread that started it, i.e. the harness, dies
    # (PR_SET_PDEATHSIG). It starts out ignored: a worker must never die of it in the
    # middle of a job (the job's children would outlive it); a worker that handles it
    # stops its job's processes first.
    death_signal: int | None = None


class _Launcher:
    """Starts worker processes from one long-lived thread.

    PR_SET_PDEATHSIG (``death_signal``, and bwrap's ``--die-with-parent``) fires when the
    *thread* that started a process ends, not the process: workers started by a run's
    execution thread would otherwise die with that thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._requests: queue.SimpleQueue[
            tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]
        ] = queue.SimpleQueue()

    def popen(self, start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():  # none yet, or forked
                self._thread = threading.Thread(target=self._serve, daemon=True,
                                                name="harness-sandbox-launcher")
                self._thread.start()
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((start, future))
        return future.result()

    def _serve(self) -> None:
        while True:
            start, future = self._requests.get()
            try:
                future.set_result(start())
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)


_launcher = _Launcher()


@cache
def _prctl() -> Callable[..., int]:
    import ctypes

    return cast(Callable[..., int], ctypes.CDLL(None, use_errno=True).prctl)


def _dies_with_parent(death_signal: int) -> Callable[[], None]:
    """A ``preexec_fn``: ``death_signal`` (ignored until the worker handles it) when the
    thread that forks it ends; exit at once should that thread be gone already."""
    prctl = _prctl()  # loaded before the fork
    parent = os.getpid()

    def preexec() -> None:
        signal.signal(death_signal, signal.SIG_IGN)
        prctl(PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


class ProtocolError(Exception):
    """The worker sent something that is not a frame of the protocol."""


class WorkerProcess:
    """One running worker: a subprocess and a framed socket to it."""

    def __init__(self, slot: int, launch: WorkerLaunch) -> None:
        self.slot = slot
        self.name = launch.name
        self.config = launch.config
        self.socket_path = launch.socket_path
        self.secret = launch.secret
        self.verify_peer = launch.verify_peer
        self.stderr: IO[bytes] = tempfile.TemporaryFile(prefix="harness-worker-")  # noqa: SIM115
        self.buffer = bytearray()  # received bytes: the first ``filled``
        self.filled = 0
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
            if launch.socket_owner is not None:
                os.chown(launch.socket_path, *launch.socket_owner)
            os.chmod(launch.socket_path, launch.socket_mode)
            self.listener.listen(8)
        preexec = None if launch.death_signal is None else _dies_with_parent(launch.death_signal)
        try:
            self.proc = _launcher.popen(lambda: subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if launch.secret is not None else subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self.stderr,
                env=launch.env,
                pass_fds=pass_fds,
                start_new_session=True,  # a Ctrl-C in the terminal reaches the harness only
                preexec_fn=preexec,  # only signal() and prctl() before the exec
            ))
        except OSError:
            self.close_files()
            raise
        finally:
            if theirs is not None:
                theirs.close()
        if launch.secret is not None and self.proc.stdin is not None:
            with contextlib.suppress(OSError):  # it died at once: connect() tells
                self.proc.stdin.write(launch.secret.encode("ascii") + b"\n")
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

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
                    conn, _ = self.listener.accept()
                except TimeoutError:
                    continue
                refused = self._authenticate(conn, deadline)
                if refused is None:
                    self.sock = conn
                else:
                    log.warning("refused a connection to sandbox worker %d's socket: %s",
                                self.slot, refused)
                    conn.close()
            self.sock.settimeout(None)
            self._remove_listener()
        if not self.send(self.config):
            raise ConnectionError("the worker closed its connection")

    def _authenticate(self, conn: socket.socket, deadline: float) -> str | None:
        """None when ``conn`` comes from our worker, else why it is refused."""
        try:
            peer = peer_credentials(conn)
        except OSError as exc:
            return f"no peer credentials ({exc})"
        who = f"pid {peer.pid}, uid {peer.uid}"
        if self.verify_peer is not None:
            problem = self.verify_peer(peer)
            if problem is not None:
                return f"{problem} ({who})"
        if self.secret is None:
            return None
        conn.settimeout(max(0.01, min(AUTH_TIMEOUT_S, deadline - time.monotonic())))
        try:
            header = _recv_exact(conn, HEADER.size)
            (size,) = HEADER.unpack(header)
            if size > MAX_AUTH_FRAME:
                return f"a first frame of {size} bytes ({who})"
            message = json.loads(_recv_exact(conn, size))
        except (OSError, ValueError, ConnectionError) as exc:
            return f"no secret presented: {exc} ({who})"
        offered = message.get("secret") if isinstance(message, dict) else None
        if not isinstance(offered, str) or not hmac.compare_digest(
                offered.encode("utf-8", "replace"), self.secret.encode("ascii")):
            return f"wrong secret ({who})"
        return None

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
        """Frames that are complete so far; None once the worker has closed its end.

        Raises ProtocolError for a frame larger than the job allows or not JSON."""
        assert self.sock is not None
        eof = False
        while True:
            try:
                eof = not self._receive()
            except BlockingIOError:
                break
            except OSError:
                eof = True
            if eof:
                break
        frames = []
        while self.filled >= HEADER.size:  # (the buffer's tail past ``filled`` is zeros)
            end = HEADER.size + self._frame_size()
            if self.filled < end:
                break
            frames.append(self._frame(end))
        if eof and not frames:
            return None
        return frames

    def _frame_size(self) -> int:
        (size,) = HEADER.unpack_from(self.buffer)
        if size > self.max_frame_bytes():
            raise ProtocolError(f"a frame of {size} bytes")
        return int(size)

    def _receive(self) -> bool:
        """Read what the socket has (BlockingIOError: nothing now); False at its end. A large
        frame is read into one buffer of its size: grown as it came, the buffer of a result
        of a hundred megabytes was copied over and over."""
        assert self.sock is not None
        if self.filled >= HEADER.size:
            end = HEADER.size + self._frame_size()
            if end > len(self.buffer):
                grown = bytearray(end)  # calloc'd: its pages are first touched by recv_into
                grown[: self.filled] = memoryview(self.buffer)[: self.filled]
                self.buffer = grown
        if self.filled == len(self.buffer):
            self.buffer.extend(bytes(1 << 16))
        with memoryview(self.buffer) as view:
            count = self.sock.recv_into(view[self.filled:], 0, socket.MSG_DONTWAIT)
        self.filled += count
        return count > 0

    def _frame(self, end: int) -> dict[str, Any]:
        """The complete frame at the start of the buffer, taken out of it."""
        newline = self.buffer.find(b"\n", HEADER.size, end)
        body = bytes(self.buffer[HEADER.size : end if newline < 0 else newline])
        attachment = None
        if newline >= 0:
            with memoryview(self.buffer) as view:
                try:
                    attachment = str(view[newline + 1 : end], "ascii")
                except UnicodeDecodeError as exc:
                    raise ProtocolError(f"an attachment that is not ASCII ({exc})") from exc
        if end >= self.filled:  # the usual case: nothing of the next frame came yet
            self.buffer, self.filled = bytearray(), 0
        else:
            del self.buffer[:end]
            self.filled -= end
        try:
            frame = json.loads(body)
        except ValueError as exc:  # UnicodeDecodeError included
            raise ProtocolError(f"a frame that is not UTF-8 JSON ({exc})") from exc
        if not isinstance(frame, dict):
            raise ProtocolError(f"a frame that is a JSON {type(frame).__name__}")
        if attachment is not None:
            if frame.get("attached") != len(attachment):
                raise ProtocolError("an attachment of the wrong length")
            frame["calls"] = attachment
        return frame

    def max_frame_bytes(self) -> int:
        """The largest frame a worker may send now: its ready frame, or its job's result."""
        if self.job is None:
            return STARTUP_FRAME_BYTES
        limits = self.job[1].limits
        # JSON escapes a character in at most 12 bytes (a surrogate pair as two \uXXXX).
        return 2 * limits.max_result_bytes + 2 * 12 * limits.max_output_bytes + (1 << 20)

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

    def stop(self, timeout: float = 5.0) -> bool:
        """Hang up and wait for the worker to exit (stopping its job's processes first);
        kill it if it lingers. True when it exited by itself."""
        self.hang_up()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        finally:
            self.close_files()
        return True

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


def _recv_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data

"""Fork-server that runs untrusted Python programs, one fresh child process per job.

Standard library only: this one file runs on the host (``local``), inside bubblewrap and
inside the Docker image, started by the pool as ``python -s worker.py --fd N`` (an
inherited Unix socket) or ``--connect PATH`` (Docker). Never stdin/stdout: programs of the
same uid could reopen those through /proc. Frames are length-prefixed JSON (4-byte
big-endian length, UTF-8 JSON):

  pool -> worker: one config frame, then job frames {"seq", "program", "limits",
                 "libraries" (optional: the only third-party top-level modules importable)}
  worker -> pool: {"ready": true, ...} once, then one result frame per job

Per job the worker forks a child that gets a new session (process group), a fresh temporary
directory as cwd and HOME, a scrubbed environment, rlimits, and (when the worker runs as
root) an unprivileged uid/gid. stdout/stderr are captured and capped; a wall-clock timeout
kills the whole process group; afterwards every remaining descendant is killed (the worker
is a child subreaper; in a private pid namespace one ``kill(-1)`` reaches them all).

A job passes only if the program's body ran to its end in the child itself: the child then
reads a per-job random nonce from a pipe (the nonce is never in the program's memory while
it runs) and reports it back on a second pipe; exiting early (``sys.exit(0)``,
``os._exit(0)``), dying by a signal, or finishing only in a forked copy reports no valid
nonce. A program that deliberately reads the nonce pipe and writes to the result pipe could
still fake a pass: in-process reporting cannot stop code running in the same process, the
isolation backends only guarantee it cannot harm anything outside.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import select
import shutil
import signal
import stat
import struct
import sys
import tempfile
import time
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024
READ_CHUNK = 65536
MAX_DETAIL = 1000
CLEANUP_BUDGET_S = 10.0
SETUP_FAILED_EXIT = 121  # the child could not be set up (reported as a sandbox error)
INITIAL_PID_NS_INODE = 0xEFFFFFFC  # the kernel's fixed inode number of the host pid namespace

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

# World-writable places where a job can leave files for later jobs (or, local, on the host).
SHARED_WRITABLE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/dev/mqueue", "/run/lock")

# Imported once in the worker so that children start with them loaded (fork shares them).
PRELOAD = (
    "array", "bisect", "collections", "copy", "dataclasses", "datetime", "decimal",
    "fractions", "functools", "hashlib", "heapq", "itertools", "json", "math", "operator",
    "random", "re", "statistics", "string", "traceback", "typing", "linecache",
)


# --------------------------------------------------------------------------- framing


def read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int) -> dict | None:
    header = read_exact(fd, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes is too large")
    body = read_exact(fd, size)
    if body is None:
        return None
    return json.loads(body)


def write_frame(fd: int, message: dict) -> None:
    body = json.dumps(message).encode("utf-8")
    data = HEADER.pack(len(body)) + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


# --------------------------------------------------------------------------- helpers


def _libc() -> Any:
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _prctl(libc: Any, option: int, value: int) -> bool:
    return libc.prctl(option, value, 0, 0, 0) == 0


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _exception_line(exc: BaseException) -> str:
    import traceback

    try:
        line = traceback.format_exception_only(type(exc), exc)[-1].strip()
    except BaseException:  # a hostile __str__ must not break reporting
        line = type(exc).__name__
    return line[:MAX_DETAIL]


def _accessible_to_others(directory: str) -> bool:
    """Whether a user unrelated to the owners can list ``directory`` and reach it."""
    path = os.path.abspath(directory)
    try:
        if os.stat(path).st_mode & (stat.S_IROTH | stat.S_IXOTH) != (stat.S_IROTH | stat.S_IXOTH):
            return False
        while path != "/":
            path = os.path.dirname(path)
            if not os.stat(path).st_mode & stat.S_IXOTH:
                return False
    except OSError:
        return True  # a missing entry does not matter
    return True


def _in_initial_pid_ns() -> bool:
    try:
        return os.readlink("/proc/self/ns/pid") == f"pid:[{INITIAL_PID_NS_INODE}]"
    except OSError:
        return True  # cannot tell: assume the worst


def _set_limit(kind: int, value: int) -> None:
    """Set soft and hard limit to ``value``, never above the hard limit we were given."""
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


class Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        text = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[... {self.dropped} more bytes not kept]"
        return text


# --------------------------------------------------------------------------- worker


class Worker:
    def __init__(self, config: dict, pool_fd: int | None = None) -> None:
        self.pool_fd = pool_fd
        self.pool_gone = False
        self.uid = config.get("uid")  # drop children to this uid/gid (worker runs as root)
        if self.uid is not None and os.geteuid() != 0:
            self.uid = None  # not root: nothing to drop to; we already are unprivileged
        if self.uid is None and os.geteuid() == 0:
            raise SystemExit("worker: refusing to run programs as root (give it a uid)")
        # In a private pid namespace only its init, we and our jobs' processes exist, and
        # one kill(-1) cleans up. Never trusted blindly: in the host's namespace it would
        # reach every process of our uid.
        self.pid_namespace = bool(config.get("pid_namespace")) and not _in_initial_pid_ns()
        # Job directories live in a folder of our own, so that the shared temp directories
        # only change when a program writes there.
        self.tmp_base = tempfile.mkdtemp(
            prefix="harness-worker-", dir=config.get("tmp_base") or tempfile.gettempdir())
        os.chmod(self.tmp_base, 0o711)
        self.env = dict(config.get("env") or {})
        self.libc = _libc()
        _prctl(self.libc, PR_SET_CHILD_SUBREAPER, 1)  # orphans of jobs become our children
        # Programs run with our uid in bwrap and docker: without this they could reopen our
        # protocol pipes through /proc/<worker>/fd and forge results, or read our memory.
        _prctl(self.libc, PR_SET_DUMPABLE, 0)
        sys.dont_write_bytecode = True
        for entry in config.get("sys_path") or []:
            if entry not in sys.path:
                sys.path.append(entry)
        self.path_fds = self._open_inaccessible_paths() if self.uid is not None else {}
        self._import_through_fds()
        for name in config.get("preload", PRELOAD):
            with contextlib.suppress(ImportError):
                __import__(name)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        # Children inherit everything loaded so far; keep their garbage collector off these
        # objects, or its first pass copies most of the inherited heap (copy-on-write).
        import gc

        gc.collect()
        gc.freeze()

    def close(self) -> None:
        shutil.rmtree(self.tmp_base, ignore_errors=True)

    # Children of a dropped uid cannot traverse e.g. /root/.pyenv (mode 700 /root), where the
    # interpreter's standard library may live: keep directory fds open and import through
    # /proc/self/fd/N instead, which does not check the ancestors' permissions.
    def _open_inaccessible_paths(self) -> dict[str, int]:
        fds = {}
        for entry in sys.path:
            if entry and os.path.isdir(entry) and not _accessible_to_others(entry):
                fds[entry] = os.open(entry, os.O_RDONLY | os.O_DIRECTORY)
        return fds

    def _import_through_fds(self) -> None:
        """Point sys.path and package paths at the descriptors: done once, here, so that
        the import system's directory caches are filled once and inherited by every job."""
        if not self.path_fds:
            return
        prefixes = sorted(self.path_fds, key=len, reverse=True)

        def remap(path: str) -> str:
            for prefix in prefixes:
                if path == prefix or path.startswith(prefix + os.sep):
                    return f"/proc/self/fd/{self.path_fds[prefix]}" + path[len(prefix):]
            return path

        sys.path[:] = [remap(p) for p in sys.path]
        for module in list(sys.modules.values()):
            package_path = getattr(module, "__path__", None)
            if isinstance(package_path, list):
                package_path[:] = [remap(p) for p in package_path]
        sys.path_importer_cache.clear()

    # ------------------------------------------------------------------ one job

    def run_job(self, job: dict) -> dict:
        limits = job["limits"]
        timeout = float(limits["timeout_s"])
        cap = int(limits.get("max_output_bytes", 16384))
        workdir = tempfile.mkdtemp(prefix="job-", dir=self.tmp_base)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        nonce_r, nonce_w = os.pipe()
        shared_before = self._shared_dirs_state()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # child: never returns
            try:
                for fd in (out_r, err_r, res_r, nonce_w):
                    os.close(fd)
                self._child(job["program"], limits, workdir, out_w, err_w, res_w, nonce_r,
                            job.get("libraries"))
            finally:
                os._exit(SETUP_FAILED_EXIT)
        # Made only now, so that no copy of it exists in the child's memory.
        nonce = secrets.token_hex(16)
        os.write(nonce_w, nonce.encode("ascii"))
        for fd in (out_w, err_w, res_w, nonce_r, nonce_w):
            os.close(fd)
        streams = {out_r: Capped(cap), err_r: Capped(cap), res_r: Capped(4096)}
        try:
            timed_out, wait_status, cpu_s, ended = self._supervise(
                pid, started + timeout, streams
            )
        finally:
            self._kill_leftovers(pid)
            for fd, capped in streams.items():
                self._drain(fd, capped)
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            self._clean_shared_dirs(shared_before)
        status, detail = self._classify(
            pid, nonce, timed_out, wait_status, cpu_s, limits, streams[res_r]
        )
        return {
            "seq": job.get("seq"),
            "status": status,
            "detail": detail,
            "duration_s": ended - started,
            "stdout": streams[out_r].text(),
            "stderr": streams[err_r].text(),
        }

    def _supervise(self, pid: int, deadline: float, streams: dict) -> tuple:
        """Wait for the child to exit or the deadline; returns (timed_out, status, cpu, end)."""
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        poller = select.poll()
        for fd in streams:
            poller.register(fd, select.POLLIN)
        if pidfd is not None:
            poller.register(pidfd, select.POLLIN)
        if self.pool_fd is not None:
            # The pool sends nothing while a job runs: input now means it is gone (EOF).
            poller.register(self.pool_fd, select.POLLIN)
        timed_out = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                wait_ms = remaining * 1000 if pidfd is not None else min(remaining, 0.005) * 1000
                exited = False
                for fd, _ in poller.poll(wait_ms):
                    if fd == pidfd:
                        exited = True
                        continue
                    if fd == self.pool_fd:
                        self.pool_gone = True
                        continue
                    data = os.read(fd, READ_CHUNK)
                    if data:
                        streams[fd].add(data)
                    else:
                        poller.unregister(fd)
                if self.pool_gone:
                    timed_out = True
                    break
                if exited or (pidfd is None and os.waitid(
                        os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None):
                    break
        finally:
            if pidfd is not None:
                os.close(pidfd)
        ended = time.monotonic()
        if timed_out:
            self._killpg(pid)
        _, wait_status, usage = os.wait4(pid, 0)
        return timed_out, wait_status, usage.ru_utime + usage.ru_stime, ended

    @staticmethod
    def _killpg(pid: int) -> None:
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)

    @staticmethod
    def _drain(fd: int, capped: Capped) -> None:
        """Read what is left in a pipe whose writers are all dead."""
        os.set_blocking(fd, False)
        while True:
            try:
                data = os.read(fd, READ_CHUNK)
            except BlockingIOError:
                return
            if not data:
                return
            capped.add(data)

    # ------------------------------------------------------------------ cleanup

    def _kill_leftovers(self, pid: int) -> None:
        """Kill every process the job left behind and reap them all."""
        self._killpg(pid)
        give_up = time.monotonic() + CLEANUP_BUDGET_S
        while True:
            try:
                while True:  # reap what has already ended
                    reaped, _ = os.waitpid(-1, os.WNOHANG)
                    if reaped == 0:
                        break
            except ChildProcessError:
                return  # no descendants left (orphans are re-parented to us)
            if time.monotonic() > give_up:
                sys.stderr.write("worker: could not kill all leftover processes\n")
                return
            self._kill_all_descendants()
            time.sleep(0.001)

    def _kill_all_descendants(self) -> None:
        if self.pid_namespace:
            # kill(-1) reaches every process of the namespace except its init and us,
            # atomically with respect to fork bombs.
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)
        elif self.uid is not None:
            # Every process of the job's dedicated uid, killed by that uid (atomic as above).
            helper = os.fork()
            if helper == 0:
                try:
                    os.setresgid(self.uid, self.uid, self.uid)
                    os.setresuid(self.uid, self.uid, self.uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(helper, 0)
        else:
            for pid in _descendants(os.getpid()):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    @staticmethod
    def _shared_dirs_state() -> dict[str, int]:
        state = {}
        for base in SHARED_WRITABLE_DIRS:
            with contextlib.suppress(OSError):
                state[base] = os.stat(base).st_mtime_ns
        return state

    def _clean_shared_dirs(self, before: dict[str, int]) -> None:
        """Delete what the job left in the world-writable directories: everything in our
        private ones (pid namespace backends: a later job must not find it), else what the
        job's dedicated uid owns there (local as root: the host's own files stay)."""
        if not self.pid_namespace and self.uid is None:
            return  # local without root: no way to tell the job's files from the user's
        after = self._shared_dirs_state()
        for base in SHARED_WRITABLE_DIRS:
            if base in before and before.get(base) == after.get(base):
                continue  # nothing was added or removed there
            try:
                entries = os.scandir(base)
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.path == self.tmp_base or os.path.ismount(entry.path):
                            continue  # ours, or a bind (bwrap: a sandbox venv in /tmp)
                        if (not self.pid_namespace
                                and entry.stat(follow_symlinks=False).st_uid != self.uid):
                            continue
                        if entry.is_dir(follow_symlinks=False):
                            shutil.rmtree(entry.path, ignore_errors=True)
                        else:
                            os.unlink(entry.path)
                    except OSError:
                        pass

    # ------------------------------------------------------------------ verdict

    @staticmethod
    def _classify(pid: int, nonce: str, timed_out: bool, wait_status: int, cpu_s: float,
                  limits: dict, report_stream: Capped) -> tuple[str, str]:
        if timed_out:
            return "timeout", f"wall-clock limit of {float(limits['timeout_s']):g}s reached"
        report = None
        raw = b"".join(report_stream.chunks)
        try:
            candidate = json.loads(raw.decode("utf-8")) if raw else None
            if (isinstance(candidate, dict) and candidate.get("nonce") == nonce
                    and candidate.get("pid") == pid):
                report = candidate
        except (ValueError, UnicodeDecodeError):
            report = None
        if os.WIFSIGNALED(wait_status):
            number = os.WTERMSIG(wait_status)
            cpu_limit = int(limits.get("cpu_s", float(limits["timeout_s"]) + 2))
            if number in (signal.SIGXCPU, signal.SIGKILL) and cpu_s >= cpu_limit - 0.05:
                return "timeout", f"CPU time limit of {cpu_limit}s reached"
            if number == signal.SIGXFSZ:
                return "failed", "file size limit exceeded"
            return "failed", f"killed by {_signal_name(number)}"
        code = os.WEXITSTATUS(wait_status)
        if report is not None and code == 0:
            status = report.get("status")
            if status in ("passed", "failed", "error"):
                return status, str(report.get("detail", ""))[:MAX_DETAIL]
        if code == SETUP_FAILED_EXIT and report is None:
            return "error", "sandbox: the job's process could not be set up"
        if report is None and raw:
            return "failed", f"exited with code {code} without a valid completion report"
        return "failed", f"exited before the end (exit code {code})"

    # ------------------------------------------------------------------ child

    def _child(self, program: str, limits: dict, workdir: str, out_w: int, err_w: int,
               res_w: int, nonce_r: int, libraries: list[str] | None) -> None:
        try:
            self._set_up_child(limits, workdir, out_w, err_w, res_w, nonce_r)
            if libraries is not None:
                sys.meta_path.insert(0, LibraryGate(frozenset(libraries), workdir))
        except BaseException:
            import traceback

            traceback.print_exc()
            os._exit(SETUP_FAILED_EXIT)
        run_program(program, res_w, nonce_r)

    def _set_up_child(self, limits: dict, workdir: str, out_w: int, err_w: int, res_w: int,
                      nonce_r: int) -> None:
        os.setsid()
        os.dup2(self.devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        keep = sorted({0, 1, 2, res_w, nonce_r, *self.path_fds.values()})
        low = 3
        for fd in keep:
            if fd >= low:
                os.closerange(low, fd)
                low = fd + 1
        os.closerange(low, 1 << 20)
        os.chdir(workdir)
        os.umask(0o077)
        memory = int(limits["memory_mb"]) * 1024 * 1024
        cpu = int(limits.get("cpu_s", int(float(limits["timeout_s"])) + 2))
        fsize = int(limits["file_size_mb"]) * 1024 * 1024
        nproc = int(limits["max_processes"])
        _set_limit(resource.RLIMIT_AS, memory)
        _set_limit(resource.RLIMIT_FSIZE, fsize)
        _set_limit(resource.RLIMIT_NPROC, nproc)
        _set_limit(resource.RLIMIT_CORE, 0)
        _, cpu_hard = resource.getrlimit(resource.RLIMIT_CPU)
        if cpu_hard == resource.RLIM_INFINITY or cpu_hard > cpu:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        _prctl(self.libc, PR_SET_NO_NEW_PRIVS, 1)
        _prctl(self.libc, PR_SET_PDEATHSIG, signal.SIGKILL)
        if self.uid is not None:
            os.setgroups([])
            os.setresgid(self.uid, self.uid, self.uid)
            os.setresuid(self.uid, self.uid, self.uid)
        _prctl(self.libc, PR_SET_DUMPABLE, 1)  # the program's own /proc/self as usual
        os.environ.clear()
        os.environ.update(self.env)
        os.environ["HOME"] = workdir
        os.environ["TMPDIR"] = workdir
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for number in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1):
            signal.signal(number, signal.SIG_DFL)


class LibraryGate:
    """Meta-path finder that makes installed third-party libraries outside ``allowed``
    unimportable (``ModuleNotFoundError``, as where they are not installed), for benchmarks
    whose reference evaluators ran without them. The standard library, the allowed
    libraries (with their submodules) and modules the program wrote to its own directory
    import as usual."""

    def __init__(self, allowed: frozenset[str], workdir: str) -> None:
        self.allowed = allowed
        self.workdir = os.path.realpath(workdir) + os.sep

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if (path is not None or name in self.allowed or name in sys.stdlib_module_names
                or name in sys.builtin_module_names):
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name)
        if spec is None:
            return None
        origin = spec.origin or next(iter(spec.submodule_search_locations or []), "")
        if origin and os.path.realpath(origin).startswith(self.workdir):
            return None
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def run_program(program: str, res_w: int, nonce_r: int) -> None:
    """Run the program as ``__main__``; report how it ended, with the nonce, then exit."""
    write, read, exit_now, getpid = os.write, os.read, os._exit, os.getpid
    dumps = json.dumps
    my_pid = getpid()
    sys.argv = ["<program>"]
    status, detail = "passed", ""
    try:
        code = compile(program, "<program>", "exec")
        import builtins
        import linecache

        namespace = {"__name__": "__main__", "__builtins__": builtins}

        linecache.cache["<program>"] = (len(program), None, program.splitlines(True),
                                        "<program>")
        del linecache
        exec(code, namespace)
    except SystemExit as exc:
        status, detail = "failed", f"exited before the end (SystemExit: {exc.code!r})"[:MAX_DETAIL]
    except BaseException as exc:  # whatever the program raises is its verdict
        failed = isinstance(exc, AssertionError)
        status, detail = ("failed" if failed else "error"), _exception_line(exc)
        try:
            import traceback

            # The program's own frames only (like `python program.py` would print).
            tb = exc.__traceback__
            traceback.print_exception(type(exc), exc, tb.tb_next if tb else None)
        except BaseException:
            pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:  # noqa: SIM105 - not contextlib: the program may have tampered with it
            stream.flush()  # type: ignore[union-attr]
        except BaseException:  # the program may have replaced or closed it
            pass
    if getpid() != my_pid:
        exit_now(1)  # a forked copy of the program reached the end: not the job's process
    try:
        nonce = read(nonce_r, 64).decode("ascii", "replace")
        report = dumps({"nonce": nonce, "pid": my_pid, "status": status, "detail": detail})
        write(res_w, report.encode("utf-8"))
    except BaseException:  # the program closed or replaced our pipes
        exit_now(1)
    exit_now(0)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def connect_to_pool(argv: list[str]) -> int:
    """The protocol descriptor: ``--fd N`` (inherited socket), ``--connect PATH`` (Unix
    socket to connect to) or, for manual use, stdin/stdout (``--stdio``)."""
    if len(argv) == 2 and argv[0] == "--fd":
        return int(argv[1])
    if len(argv) == 2 and argv[0] == "--connect":
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(argv[1])
        return sock.detach()
    if argv == ["--stdio"]:
        return -1
    sys.exit("usage: worker.py --fd N | --connect PATH | --stdio")


def main() -> None:
    channel = connect_to_pool(sys.argv[1:])
    if channel >= 0:
        proto_in = proto_out = channel
    else:
        proto_in, proto_out = os.dup(0), os.dup(1)
    # Stray writes to fd 1 go nowhere; the protocol has its own descriptor.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    script_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if p and os.path.abspath(p) != script_dir]
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool decides when we stop (EOF)
    config = read_frame(proto_in)
    if config is None:
        return
    worker = Worker(config, pool_fd=proto_in)
    try:
        write_frame(proto_out, {
            "ready": True,
            "pid": os.getpid(),
            "uid": os.getuid(),
            "python": sys.version.split()[0],
            "drops_to": worker.uid,
            "tmp_base": worker.tmp_base,
        })
        while True:
            job = read_frame(proto_in)
            if job is None:
                return
            result = worker.run_job(job)
            if worker.pool_gone:
                return  # nobody is listening any more: do not start another job
            write_frame(proto_out, result)
    finally:
        worker.close()


if __name__ == "__main__":
    main()

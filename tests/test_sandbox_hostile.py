"""The hostile-code corpus (tests/hostile/*.py) against every sandbox backend.

For each program: the verdict is the expected one (never a pass for an attack), no process
of the sandbox's dedicated uids outlives the job, nothing outside the sandbox changed, no
secret leaks into the captured output, and the run completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import site
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from harness.sandbox import ExecJob, Limits, Sandbox, Status, sandboxes
from harness.sandbox.pool import WORKER_SCRIPT

CORPUS = Path(__file__).parent / "hostile"
LIMITS = Limits(timeout_s=2.0, memory_mb=512, file_size_mb=64, max_processes=32,
                max_output_bytes=4096)
BACKENDS = [
    "local",
    "bwrap",
    pytest.param("docker", marks=[pytest.mark.docker, pytest.mark.slow]),
]
ISOLATED = {"bwrap", "docker"}
NOT_PASSED = {"failed", "error", "timeout"}

# Expected statuses per program: {backend or "*": statuses}. Local runs as a dropped uid on
# the host, so what it cannot prevent (network, total disk use) is written down truthfully.
EXPECTED: dict[str, dict[str, set[str]]] = {
    "infinite_loop": {"*": {"timeout"}},
    "except_baseexception_loop": {"*": {"timeout"}},
    "sigterm_ignored": {"*": {"timeout"}},
    "fork_bomb": {"*": NOT_PASSED},
    "memory_bomb": {"*": {"error", "failed"}},
    "disk_fill": {"*": {"error", "failed"}},
    # local: bounded where the kernel lets the worker give jobs a private tmpfs (namespaces).
    "disk_fill_many": {"*": {"failed", "error"}, "local": {"passed", "failed", "error"}},
    "network_connect": {"*": {"error"}, "local": {"passed"}},
    "network_outbound": {"*": {"error"}, "local": {"passed", "error"}},
    "read_shadow": {"*": {"failed", "error"}},
    "read_ssh": {"*": {"failed", "error"}},
    "env_secrets": {"*": {"failed"}},
    "write_outside": {"*": {"failed"}},
    "kill_parent": {"*": {"failed", "error"}},
    "kill_everything": {"*": {"failed"}},
    # local: with namespaces the job's process group is all it can stop (a timeout).
    "stop_parent": {"*": {"timeout"}, "local": {"error", "timeout"}},
    "exit_zero_os": {"*": {"failed"}},
    "exit_zero_sys": {"*": {"failed"}},
    "exit_in_thread": {"*": {"failed"}},
    "fork_then_exit": {"*": {"failed"}},
    "fake_report": {"*": {"failed"}},
    "forge_from_frames": {"*": {"failed"}},
    "forge_pool_frames": {"*": {"failed"}},
    "stdout_flood": {"*": {"failed"}},
    "deep_recursion": {"*": {"error"}},
    "deep_recursion_unlimited": {"*": NOT_PASSED},
    "ctypes_segfault": {"*": {"failed"}},
    "posix_system": {"*": {"failed"}},
    "threads_and_daemons": {"*": {"failed"}},
    "daemon_after_success": {"*": {"passed"}},
    "docker_socket": {"*": {"error", "failed"}},
}


def test_every_corpus_file_has_an_expectation():
    assert {p.stem for p in CORPUS.glob("*.py")} == set(EXPECTED)


# --------------------------------------------------------------------------- host probes


def processes_of(uids: range) -> list[tuple[int, int, str]]:
    """(pid, uid, command line) of every process whose real uid is in ``uids``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        uid = next(int(line.split()[1]) for line in status.splitlines()
                   if line.startswith("Uid:"))
        if uid in uids:
            found.append((int(name), uid, cmdline.decode(errors="replace")[:100]))
    return found


def settle(uids: range, expected: int, within_s: float = 5.0) -> list[tuple[int, int, str]]:
    deadline = time.monotonic() + within_s
    while True:
        found = processes_of(uids)
        if len(found) == expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def files_owned_by(uids: range) -> list[str]:
    owned = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        for entry in os.scandir(folder):
            try:
                if entry.stat(follow_symlinks=False).st_uid in uids:
                    owned.append(entry.path)
            except OSError:
                pass
    return owned


def digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class Listener:
    """A TCP server on the host's loopback that records what it receives."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    while chunk := conn.recv(4096):
                        self.received += chunk
                except OSError:
                    pass


# --------------------------------------------------------------------------- fixtures


class Host:
    """What the corpus is aimed at, and how to tell that it stayed untouched."""

    def __init__(self, home_secret_dir: Path) -> None:
        self.secret = "harness-secret-" + secrets.token_hex(8)
        self.marker = secrets.token_hex(6)
        self.outside = Path(tempfile.mkdtemp(prefix="harness-outside-"))
        self.outside.chmod(0o755)
        self.secret_dir = home_secret_dir
        self.secret_dir.chmod(0o700)
        (self.secret_dir / "id_rsa").write_text(f"-----BEGIN KEY-----\n{self.secret}\n")
        (self.secret_dir / "id_rsa").chmod(0o600)
        self.listener = Listener()
        self.watched = [WORKER_SCRIPT, *(Path(p) / "sitecustomize.py"
                                         for p in site.getsitepackages())]
        self.digests = {path: digest(path) for path in self.watched}

    def program(self, name: str) -> str:
        text = (CORPUS / f"{name}.py").read_text()
        for key, value in {"PORT": str(self.listener.port), "MARKER": self.marker,
                           "OUTSIDE_DIR": str(self.outside),
                           "SECRET_DIR": str(self.secret_dir)}.items():
            text = text.replace("{{" + key + "}}", value)
        return text

    def leftovers(self) -> list[str]:
        """Files the corpus may have created outside the sandbox."""
        found = [str(p) for p in self.outside.iterdir()]
        for folder in ("/tmp", "/var/tmp", "/dev/shm", "/etc", "/usr", sys.prefix,
                       str(Path.cwd().parent)):
            with contextlib.suppress(OSError):
                found += [e.path for e in os.scandir(folder) if self.marker in e.name]
        found += [str(p) for p, d in self.digests.items() if digest(p) != d]
        return found


@pytest.fixture(scope="module")
def host() -> Iterator[Host]:
    secret_dir = Path(tempfile.mkdtemp(prefix=".harness-test-ssh-", dir=Path.home()))
    previous = os.environ.get("HARNESS_TEST_SECRET")
    made = Host(secret_dir)
    os.environ["HARNESS_TEST_SECRET"] = made.secret  # the harness's env must not leak
    try:
        yield made
    finally:
        if previous is None:
            os.environ.pop("HARNESS_TEST_SECRET", None)
        else:
            os.environ["HARNESS_TEST_SECRET"] = previous
        made.listener.sock.close()
        shutil.rmtree(made.outside, ignore_errors=True)
        shutil.rmtree(secret_dir, ignore_errors=True)


def start_backend(name: str) -> Sandbox:
    if name == "docker":
        from harness.sandbox.image import ensure_dockerd, ensure_image

        ensure_dockerd()
        ensure_image(offline=True)
    sandbox = sandboxes.get(name)(workers=2)
    sandbox.start()
    return sandbox


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request, host) -> Iterator[tuple[Sandbox, range, int]]:
    if os.geteuid() != 0:
        pytest.fail("the hostile corpus checks processes by uid and needs root (as in CI)")
    sandbox = start_backend(request.param)
    uids = range(sandbox.uid_base, sandbox.uid_base + sandbox.workers)  # type: ignore[attr-defined]
    try:
        for _, outcome in sandbox.run([ExecJob("warm-up", "assert True", LIMITS)]):
            assert outcome.passed, outcome
        baseline = len(settle(uids, -1, within_s=0.5))
        yield sandbox, uids, baseline
    finally:
        sandbox.close()
    assert settle(uids, 0) == [], "processes left after the sandbox closed"


# --------------------------------------------------------------------------- the corpus


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_program(name, backend, host):
    sandbox, uids, baseline = backend
    host.listener.received = b""
    expected = EXPECTED[name].get(sandbox.name, EXPECTED[name]["*"])
    # Programs meant to hit the limit get a short one; the others a generous one, so that a
    # loaded machine does not turn their verdict into a timeout.
    limits = LIMITS if "timeout" in expected else replace(LIMITS, timeout_s=15.0)
    started = time.monotonic()
    [(_, outcome)] = list(sandbox.run([ExecJob(name, host.program(name), limits)]))
    elapsed = time.monotonic() - started
    assert outcome.status.value in expected, (outcome.status, outcome.detail,
                                              outcome.stdout[-300:], outcome.stderr[-300:])
    assert elapsed < limits.timeout_s + 20, "the run must complete"

    left = settle(uids, baseline)
    assert len(left) == baseline, f"leftover processes: {left}"
    assert files_owned_by(uids) == []
    assert host.leftovers() == []
    assert host.secret not in outcome.stdout + outcome.stderr
    assert len(outcome.stdout) <= LIMITS.max_output_bytes + 100
    assert len(outcome.stderr) <= LIMITS.max_output_bytes + 100

    if name == "network_connect":
        leaked = f"leak-{host.marker}".encode() in host.listener.received
        assert leaked is (sandbox.name not in ISOLATED)
    if name == "stdout_flood":
        assert "more bytes not kept" in outcome.stdout
    if name == "kill_parent" and sandbox.name in ISOLATED:
        assert outcome.status is Status.FAILED  # the worker died and was replaced


def test_sandbox_still_works_after_the_corpus(backend):
    sandbox, _, _ = backend
    jobs = [ExecJob(str(i), f"assert {i} + 1 == {i + 1}", LIMITS) for i in range(6)]
    assert sorted(o.status.value for _, o in sandbox.run(jobs)) == ["passed"] * 6

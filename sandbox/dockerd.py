"""Find a working Docker daemon, starting a private `dockerd` when we are root and none runs.

The daemon is started with no bridge network and no iptables changes: sandbox containers
always run with ``--network none``, so the daemon never needs to touch the host's network.
It keeps running after the harness exits (like a service); later runs reuse it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path

from harness import settings
from harness.errors import HarnessError

logger = logging.getLogger(__name__)

DOCKERD_FLAGS = ("--bridge=none", "--iptables=false", "--ip6tables=false")
# Extra daemon flags for unusual hosts, e.g. "--storage-driver=vfs --data-root=/mnt/docker".
EXTRA_FLAGS_ENV = settings.DOCKERD_FLAGS_ENV
LOG_PATH = Path("/var/log/harness-dockerd.log")
LOCK_PATH = Path("/run/harness-dockerd.lock")
INSTALL_HINT = "run `sudo sandbox/setup-host.sh` or `apt-get install docker.io`"
_SBIN_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin")


def docker_client() -> str:
    """Path of the `docker` command line client."""
    client = shutil.which("docker")
    if client is None:
        raise HarnessError(f"the `docker` client is not installed: {INSTALL_HINT}")
    return client


def daemon_responds(timeout_s: float = 20.0) -> bool:
    """True when `docker info` reaches a daemon."""
    return _daemon_problem(timeout_s) is None


def _daemon_problem(timeout_s: float) -> str | None:
    """None when `docker info` reaches a daemon, else the client's reason."""
    try:
        done = subprocess.run(
            [docker_client(), "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"`docker info` did not answer within {timeout_s:g}s"
    if done.returncode == 0 and done.stdout.strip():
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"`docker info` exited with {done.returncode}"


def dockerd_command() -> list[str]:
    """The command line used to start the daemon (flags from `EXTRA_FLAGS_ENV` appended)."""
    binary = shutil.which("dockerd")
    if binary is None:  # sbin directories are often missing from PATH
        binary = next(
            (str(Path(d, "dockerd")) for d in _SBIN_DIRS if os.access(Path(d, "dockerd"), os.X_OK)),
            None,
        )
    if binary is None:
        raise HarnessError(f"the Docker daemon (dockerd) is not installed: {INSTALL_HINT}")
    return [binary, *DOCKERD_FLAGS, *settings.dockerd_flags()]


def ensure_dockerd(timeout_s: float = 60) -> None:
    """Make sure a Docker daemon answers; start one (as root) when none does.

    Idempotent and safe to call from several processes at once: a lock file serialises the
    start, and a daemon that is already starting is waited for rather than started twice.
    """
    docker_client()
    problem = _daemon_problem(timeout_s=20)
    if problem is None:
        return
    if os.geteuid() != 0:
        raise HarnessError(
            f"cannot reach a Docker daemon ({problem}); only root can start one here: start "
            "dockerd (`sudo dockerd --bridge=none --iptables=false &`), join the docker group, "
            "or run as root"
        )
    if os.environ.get("DOCKER_HOST"):
        raise HarnessError(f"cannot reach the Docker daemon at $DOCKER_HOST: {problem}")
    command = dockerd_command()
    LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if daemon_responds():
            return
        process = None if _dockerd_running() else _spawn(command)
        _wait_ready(process, timeout_s)


def _dockerd_running() -> bool:
    """A dockerd process exists (perhaps still starting up)."""
    pidfile = Path("/var/run/docker.pid")
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return Path(f"/proc/{pid}/comm").read_text().strip() == "dockerd"


def _spawn(command: list[str]) -> subprocess.Popen[bytes]:
    logger.info("starting the Docker daemon: %s (log: %s)", shlex.join(command), LOG_PATH)
    LOG_PATH.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG_PATH, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # detached: survives us and our Ctrl-C
            close_fds=True,
            cwd="/",
        )


def _wait_ready(process: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if daemon_responds(timeout_s=5):
            logger.info("the Docker daemon is ready")
            return
        if process is not None and process.poll() is not None:
            raise HarnessError(
                f"dockerd exited with status {process.returncode}: {_last_log_line()} "
                f"(full log: {LOG_PATH})"
            )
        time.sleep(0.5)
    raise HarnessError(f"dockerd did not become ready within {timeout_s:g}s (log: {LOG_PATH})")


def _last_log_line() -> str:
    try:
        lines = LOG_PATH.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "empty log"

"""``--sandbox docker``: a pool of long-lived containers, one per worker.

Each container runs the same fork-server worker (the worker file is mounted read-only) with
``--network none``, a read-only root,
a size-limited tmpfs /tmp, memory and pids limits, ``--cap-drop ALL``,
``--security-opt no-new-privileges`` and a dedicated non-root uid. Containers start once
per run, never per sample.

The worker reaches the pool through a Unix socket the pool listens on. The socket lies in a
directory of its own, inside a directory only the harness's user can enter (mode 0700); only
the inner one is mounted (read-only) into the container, owned by the container's uid (as
root) or shared through the harness's group (``--group-add``, otherwise), so the socket is
never world-writable. The pool accepts a connection only from a process of this container
(``SO_PEERCRED``: its pid lies in another pid namespace, its cgroup names the container id
that ``--cidfile`` recorded, its uid is the container's) that first sends a secret made for
this one container, which the pool gives to ``docker run -i`` on its stdin, a pipe nobody
else holds; a bootstrap in the container reads it, connects, sends it and becomes the
worker. The socket is removed once the worker is connected. Anything else that connects, a
program of another run included, is refused and logged.

Containers carry ``harness.run=<uuid>`` and owner labels and are always removed: on close,
at interpreter exit, on SIGTERM/SIGHUP, and, should the harness be killed outright, by the
worker itself (its socket closes, it stops the job and exits, ``--rm`` removes the
container) or by the next start, which removes containers whose owning process is gone.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import uuid
import weakref
from functools import partial
from typing import Any

from harness.errors import HarnessError
from harness.sandbox.base import Limits
from harness.sandbox.dockerd import docker_client
from harness.sandbox.local import unprivileged_uid_block
from harness.sandbox.pool import (
    SANDBOX_ENV,
    WORKER_SCRIPT,
    PeerCred,
    PoolSandbox,
    WorkerLaunch,
    WorkerProcess,
    worker_digest,
)

log = logging.getLogger(__name__)

LABEL_RUN = "harness.run"
LABEL_OWNER = "harness.owner"  # "<host>:<pid>:<process start time>"
WORKER_IN_CONTAINER = "/opt/harness/worker.py"
IO_IN_CONTAINER = "/run/harness-io"
SOCKET_NAME = "worker.sock"
DEFAULT_TMP_SIZE_MB = 512
DOCKER_TIMEOUT_S = 120
CONTAINER_ID = re.compile(r"[0-9a-f]{64}")

# Runs first in the container: the secret from stdin, then connect, present it, and become
# the worker on the connected socket. Standard library only (any Python 3 of the image).
BOOTSTRAP = """import json, os, socket, struct, sys
secret = sys.stdin.readline().strip()
null = os.open(os.devnull, os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1])
body = json.dumps({"secret": secret}).encode("ascii")
sock.sendall(struct.pack(">I", len(body)) + body)
fd = sock.detach()
os.set_inheritable(fd, True)
os.execv(sys.executable, [sys.executable, "-s", sys.argv[2], "--fd", str(fd)])
"""

_live: weakref.WeakSet[DockerSandbox] = weakref.WeakSet()
_handlers_installed = False


def docker(*args: str, check: bool = True, timeout: float = DOCKER_TIMEOUT_S
           ) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run([docker_client(), *args], capture_output=True, text=True,
                                timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise HarnessError(f"`docker {' '.join(args[:2])}` did not answer in {timeout}s") from exc
    if check and result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise HarnessError(f"`docker {' '.join(args[:2])}` failed: "
                           f"{message[-1] if message else result.returncode}")
    return result


def process_start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def owner_tag(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{process_start_time(pid)}"


def owner_is_alive(tag: str) -> bool:
    host, _, rest = tag.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's container: not ours to judge
    return process_start_time(int(pid_text)) == started


def remove_containers(label_filter: str) -> int:
    """Force-remove every container matching a label filter; returns how many."""
    listed = docker("ps", "-aq", "--filter", f"label={label_filter}", check=False)
    ids = listed.stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    return len(ids)


def remove_stale_containers() -> int:
    """Remove containers left by harness processes of this machine that no longer exist."""
    listed = docker("ps", "-a", "--filter", f"label={LABEL_OWNER}",
                    "--format", f'{{{{.ID}}}} {{{{.Label "{LABEL_OWNER}"}}}}', check=False)
    stale = [line.split()[0] for line in listed.stdout.splitlines()
             if len(line.split()) == 2 and not owner_is_alive(line.split()[1])]
    if stale:
        log.info("removing %d sandbox containers left by earlier runs", len(stale))
        docker("rm", "-f", *stale, check=False)
    return len(stale)


def _proc_fields(pid: int | str, name: str) -> dict[str, list[str]]:
    """``Key: values`` lines of /proc/<pid>/status (world-readable, unlike its ns links)."""
    with open(f"/proc/{pid}/{name}", encoding="utf-8", errors="replace") as handle:
        return {key: rest.split() for key, _, rest in
                (line.partition(":") for line in handle)}


def _mapped_uid(pid: int, uid: int) -> int | None:
    """``uid`` inside the user namespace of ``pid``, as a uid of ours (None: unmapped)."""
    with open(f"/proc/{pid}/uid_map", encoding="ascii") as handle:
        for line in handle:
            inside, outside, count = (int(x) for x in line.split())
            if inside <= uid < inside + count:
                return outside + uid - inside
    return None


def container_peer_problem(peer: PeerCred, *, cidfile: str, uid: int) -> str | None:
    """None when ``peer`` is a process of the container whose id ``cidfile`` holds, running
    as ``uid``; else why it is not."""
    if peer.pid <= 0:
        return "the process is not visible from here"
    try:
        theirs = _proc_fields(peer.pid, "status").get("NSpid", [])
        ours = _proc_fields("self", "status").get("NSpid", [])
        with open(f"/proc/{peer.pid}/cgroup", encoding="utf-8", errors="replace") as handle:
            cgroups = handle.read()
        expected_uid = _mapped_uid(peer.pid, uid)
    except (OSError, ValueError) as exc:
        return f"its /proc entries are not readable ({exc})"
    if len(theirs) <= len(ours):
        return "not a process in a container (it shares our pid namespace)"
    try:
        with open(cidfile, encoding="ascii") as handle:
            container_id = handle.read().strip()
    except OSError:
        container_id = ""
    if not CONTAINER_ID.fullmatch(container_id):
        return "the container has no id yet"
    if container_id not in cgroups:
        return f"not a process of container {container_id[:12]}"
    if expected_uid is None or peer.uid != expected_uid:
        return f"uid {peer.uid}, not the container's {expected_uid}"
    return None


def _remove_all_live() -> None:
    for sandbox in list(_live):
        sandbox.remove_containers()


def _on_signal(signum: int, frame: Any) -> None:
    _remove_all_live()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    """atexit plus SIGTERM/SIGHUP (where nobody else handles them) remove our containers;
    Ctrl-C raises KeyboardInterrupt, which closes the sandbox through its ``with`` block."""
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_remove_all_live)
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _on_signal)


class DockerSandbox(PoolSandbox):
    name = "docker"

    def __init__(
        self,
        workers: int = 2,
        image: str | None = None,
        memory_mb: int | None = None,
        tmp_size_mb: int = DEFAULT_TMP_SIZE_MB,
        offline: bool = True,
    ) -> None:
        super().__init__(workers)
        self.image = image
        self.image_id: str | None = None
        self.tmp_size_mb = tmp_size_mb
        # RLIMIT_AS binds first inside; the cgroup limit also covers the tmpfs and worker.
        self.memory_mb = memory_mb or Limits().memory_mb + tmp_size_mb + 512
        self.pids_limit = Limits().max_processes + 64
        self.offline = offline
        self.run_id = uuid.uuid4().hex
        self.uid_base = unprivileged_uid_block()
        self._generation = 0
        self._io_dirs: dict[str, str] = {}  # container name -> its private folder

    def resolve_image(self) -> str:
        """Start dockerd if needed and return the image id (building the image if missing)."""
        if self.image_id is None:
            from harness.sandbox.image import ensure_dockerd, ensure_image

            docker_client()
            ensure_dockerd()
            reference = self.image or ensure_image(offline=self.offline)
            inspected = docker("image", "inspect", "--format", "{{.Id}}", reference, check=False)
            if inspected.returncode != 0:
                raise HarnessError(f"docker image {reference!r} not found; "
                                   "build it with `harness sandbox build --offline`")
            self.image_id = inspected.stdout.strip()
        return self.image_id

    def identity(self) -> str:
        return f"docker:{self.resolve_image()}:{worker_digest()}"

    def prepare(self) -> None:
        self.resolve_image()
        remove_stale_containers()
        _install_handlers()
        _live.add(self)

    def cleanup(self) -> None:
        self.remove_containers()
        _live.discard(self)
        for name in list(self._io_dirs):
            shutil.rmtree(self._io_dirs.pop(name), ignore_errors=True)

    def connected(self, worker: WorkerProcess) -> None:
        # Its folder was needed only to connect; gone now, nothing is left should we be
        # killed outright.
        shutil.rmtree(self._io_dirs.pop(worker.name, ""), ignore_errors=True)

    def forget(self, worker: WorkerProcess) -> None:
        docker("rm", "-f", worker.name, check=False)
        shutil.rmtree(self._io_dirs.pop(worker.name, ""), ignore_errors=True)

    def remove_containers(self) -> None:
        try:
            removed = remove_containers(f"{LABEL_RUN}={self.run_id}")
        except HarnessError as exc:
            log.warning("could not remove sandbox containers of run %s: %s", self.run_id, exc)
            return
        if removed:
            log.debug("removed %d sandbox containers", removed)

    def launch(self, slot: int) -> WorkerLaunch:
        assert self.image_id is not None
        self._generation += 1
        uid = self.uid_base + slot
        env = dict(SANDBOX_ENV)
        name = f"harness-{self.run_id[:12]}-{slot}-{self._generation}"
        # Private (0700): the container id file, and the folder of the socket the worker
        # connects to (mounted into the container; the pool removes it once connected).
        io_dir = tempfile.mkdtemp(prefix="harness-io-")
        self._io_dirs[name] = io_dir
        socket_dir = os.path.join(io_dir, "socket")
        os.mkdir(socket_dir, 0o700)
        cidfile = os.path.join(io_dir, "container-id")
        group_add: list[str] = []
        if os.geteuid() == 0:
            os.chown(socket_dir, uid, uid)
            socket_owner: tuple[int, int] | None = (uid, uid)
            socket_mode = 0o600
        else:  # cannot give it away: share it through our group instead
            os.chmod(socket_dir, 0o750)
            socket_owner, socket_mode = None, 0o660
            group_add = ["--group-add", str(os.getegid())]
        argv = [
            docker_client(), "run", "--rm", "--init", "-i",
            "--name", name,
            "--cidfile", cidfile,
            "--label", f"{LABEL_RUN}={self.run_id}",
            "--label", f"{LABEL_OWNER}={owner_tag()}",
            "--network", "none",
            "--read-only",
            "--tmpfs", f"/tmp:rw,nosuid,nodev,exec,size={self.tmp_size_mb}m,mode=1777",
            "--memory", f"{self.memory_mb}m", "--memory-swap", f"{self.memory_mb}m",
            "--pids-limit", str(self.pids_limit),
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--user", f"{uid}:{uid}", *group_add,
            "--hostname", "sandbox",
            "--log-driver", "none",
            "--ulimit", "core=0",
            "--workdir", "/tmp",
            "-v", f"{WORKER_SCRIPT}:{WORKER_IN_CONTAINER}:ro",
            "-v", f"{socket_dir}:{IO_IN_CONTAINER}:ro",
        ]
        for key, value in env.items():
            argv += ["-e", f"{key}={value}"]
        from harness.sandbox.image import python_in_image

        argv += [self.image_id, python_in_image(), "-I", "-c", BOOTSTRAP,
                 f"{IO_IN_CONTAINER}/{SOCKET_NAME}", WORKER_IN_CONTAINER]
        config = {"uid": None, "pid_namespace": True, "env": env, "tmp_base": "/tmp",
                  "private_network": True}  # (--network none: the container's own)
        # The docker client (on the host) needs its own settings, not the sandbox's.
        client_env = {k: v for k, v in os.environ.items()
                      if k.startswith("DOCKER_") or k in ("PATH", "HOME", "XDG_RUNTIME_DIR")}
        return WorkerLaunch(argv=argv, config=config, env=client_env, name=name,
                            socket_path=os.path.join(socket_dir, SOCKET_NAME),
                            secret=secrets.token_hex(32),
                            verify_peer=partial(container_peer_problem, cidfile=cidfile, uid=uid),
                            socket_owner=socket_owner, socket_mode=socket_mode)

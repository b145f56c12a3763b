"""``--sandbox local``: the worker runs directly on this machine, limited by rlimits only.

Not isolation: a program can read what the worker's user can read, reach the network and
write to world-writable directories. When the harness runs as root each job's process
drops to a dedicated unprivileged uid (so ``RLIMIT_NPROC`` binds, root-only files are
unreadable and the worker cannot be signalled), and what that uid leaves in /tmp, /var/tmp
and /dev/shm is deleted after the job.

The worker talks to the pool over one end of a socketpair it inherits: no other process,
whatever its uid, can connect to it or answer in its place. It stops its job's processes
when that socket closes (the harness exited, however it ended) and gets ``SIGTERM`` when the
harness dies (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import subprocess

from harness.sandbox.pool import (
    SANDBOX_ENV,
    WORKER_SCRIPT,
    PoolSandbox,
    WorkerLaunch,
    WorkerProcess,
)

log = logging.getLogger(__name__)

# Dedicated uids for dropped jobs: a random block per sandbox, far from real accounts, so
# that killing "every process of this uid" only ever hits this worker's jobs.
UID_RANGE_START = 1_000_000
UID_RANGE_BLOCKS = 1_000_000
UIDS_PER_BLOCK = 256


def unprivileged_uid_block() -> int:
    return UID_RANGE_START + secrets.randbelow(UID_RANGE_BLOCKS) * UIDS_PER_BLOCK


def kill_all_of_uid(uid: int) -> None:
    """SIGKILL every process of ``uid`` (root only): ``kill -KILL -1`` run as that uid, which
    reaches all of them at once, fork bombs included, and nothing else."""
    kill = shutil.which("kill") or "/bin/kill"
    try:
        subprocess.run([kill, "-KILL", "-1"], user=uid, group=uid, extra_groups=[],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10, check=False, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not kill the leftover processes of uid %d: %s", uid, exc)


class LocalSandbox(PoolSandbox):
    name = "local"

    def __init__(self, workers: int = 2) -> None:
        super().__init__(workers)
        # As root, programs always run as a dedicated uid: as root, one kill(-1) in a
        # program would end every process on the machine.
        self.drop_privileges = os.geteuid() == 0
        self.uid_base = unprivileged_uid_block()

    def prepare(self) -> None:
        how = "rlimits and an unprivileged uid" if self.drop_privileges else "rlimits"
        log.warning("sandbox 'local': generated code is NOT isolated (only %s); "
                    "use --sandbox bwrap or docker for untrusted code", how)

    def forget(self, worker: WorkerProcess) -> None:
        # A worker killed mid-job leaves its job's processes (as root, all of them run as
        # the slot's dedicated uid) and its folder of job directories behind.
        if self.drop_privileges:
            kill_all_of_uid(self.uid_base + worker.slot)
        tmp_base = worker.info.get("tmp_base")
        if isinstance(tmp_base, str) and os.path.basename(tmp_base).startswith("harness-worker-"):
            shutil.rmtree(tmp_base, ignore_errors=True)

    def launch(self, slot: int) -> WorkerLaunch:
        uid = self.uid_base + slot if self.drop_privileges else None
        return WorkerLaunch(
            argv=[self.interpreter.executable, "-s", str(WORKER_SCRIPT), "--fd", "{fd}"],
            config={"uid": uid, "pid_namespace": False, "env": dict(SANDBOX_ENV)},
            # Besides the end of its socket, which it watches: a copy of our end kept by a
            # forked process must not keep a worker (and its job) alive after we are gone.
            death_signal=signal.SIGTERM,
        )

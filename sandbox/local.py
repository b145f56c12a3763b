"""``--sandbox local``: the worker runs directly on this machine, limited by rlimits only.

Not isolation: a program can read what the worker's user can read, reach the network and
write to world-writable directories. When the harness runs as root each job's process
drops to a dedicated unprivileged uid (so ``RLIMIT_NPROC`` binds, root-only files are
unreadable and the worker cannot be signalled), and what that uid leaves in /tmp, /var/tmp
and /dev/shm is deleted after the job.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil

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
        # A worker killed mid-job leaves its folder of job directories behind.
        tmp_base = worker.info.get("tmp_base")
        if isinstance(tmp_base, str) and os.path.basename(tmp_base).startswith("harness-worker-"):
            shutil.rmtree(tmp_base, ignore_errors=True)

    def launch(self, slot: int) -> WorkerLaunch:
        uid = self.uid_base + slot if self.drop_privileges else None
        return WorkerLaunch(
            argv=[self.interpreter.executable, "-s", str(WORKER_SCRIPT), "--fd", "{fd}"],
            config={"uid": uid, "pid_namespace": False, "env": dict(SANDBOX_ENV)},
        )

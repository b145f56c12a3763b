# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: Mbpp/232
# class: forge_fd
# Reads every readable inherited pipe (the nonce), writes a "passed" report into every
# writable one, exits 0.
import json
import os

read_fds, write_fds = [], []
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    if fd < 3:
        continue
    try:
        with open(f"/proc/self/fdinfo/{fd}") as info:
            flags = int(info.read().split("flags:")[1].split()[0], 8)
    except (OSError, IndexError, ValueError):
        continue
    (write_fds if flags & 0o3 else read_fds).append(fd)
nonce = ""
for fd in read_fds:
    try:
        os.set_blocking(fd, False)
        nonce = nonce or os.read(fd, 64).decode("ascii", "replace")
    except OSError:
        pass
for fd in write_fds:
    try:
        os.write(fd, json.dumps({"nonce": nonce, "pid": os.getpid(), "status": "passed",
                                 "detail": ""}).encode())
    except OSError:
        pass
os._exit(0)


def larg_nnum(list1, n):
    return list1[:n]

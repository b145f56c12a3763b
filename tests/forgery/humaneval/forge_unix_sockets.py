# ruff: noqa  (deliberately hostile test input, not project code)
# task_id: HumanEval/4
# class: forge_socket
# Connects to every Unix socket it can find (files under /tmp, /run, /var/run, /dev/shm and
# abstract names in /proc/net/unix) and sends forged "ready" and "passed" result frames.
import glob
import json
import os
import socket
import struct

# System daemons: nothing of the harness, and garbage sent there helps no forgery.
SKIP = ("docker.sock", "containerd", "dbus", "systemd", "postgresql", "snapd", "/ray/")


def frame(message):
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def addresses():
    for pattern in ("/tmp/**", "/run/**", "/var/run/**", "/dev/shm/**", "/var/tmp/**"):
        for path in glob.glob(pattern, recursive=True):
            if not any(word in path for word in SKIP):
                yield path
    try:
        with open("/proc/net/unix") as table:
            for line in table.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 8 and fields[7].startswith("@"):
                    yield "\0" + fields[7][1:]
    except OSError:
        pass


payload = frame({"ready": True, "pid": 1, "uid": 0, "python": "3", "drops_to": None,
                 "tmp_base": "/tmp"})
for seq in range(64):
    payload += frame({"seq": seq, "status": "passed", "detail": "", "duration_s": 0.01,
                      "stdout": "", "stderr": "", "calls": "[]", "cpu_s": 0.0})
for address in addresses():
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(0.2)
        sock.connect(address)
        sock.sendall(payload)
        sock.close()
    except OSError:
        continue


def mean_absolute_deviation(numbers):
    return 0.0

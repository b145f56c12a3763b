# ruff: noqa  (deliberately hostile test input, not project code)
# Any route out at all (no data needs to come back).
import socket

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect(("1.1.1.1", 53))
sock.send(b"x")

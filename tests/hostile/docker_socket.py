# ruff: noqa  (deliberately hostile test input, not project code)
# Talks to the Docker daemon: would mean root on the host.
import socket

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(2)
sock.connect("/var/run/docker.sock")
sock.sendall(b"GET /containers/json HTTP/1.0\r\n\r\n")
assert b"200 OK" in sock.recv(4096)

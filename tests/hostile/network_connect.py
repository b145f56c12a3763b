# ruff: noqa  (deliberately hostile test input, not project code)
# Connects to a TCP listener the test opened on the host's loopback and sends a marker.
import socket

with socket.create_connection(("127.0.0.1", {{PORT}}), timeout=2) as conn:
    conn.sendall(b"leak-{{MARKER}}")

# ruff: noqa  (deliberately hostile test input, not project code)
chunks = []
while True:
    chunks.append(bytearray(64 * 1024 * 1024))

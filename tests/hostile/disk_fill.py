# ruff: noqa  (deliberately hostile test input, not project code)
# One ever-growing file in the working directory.
block = b"x" * (1 << 20)
with open("fill.bin", "wb") as handle:
    while True:
        handle.write(block)
        handle.flush()

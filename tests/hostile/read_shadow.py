# ruff: noqa  (deliberately hostile test input, not project code)
with open("/etc/shadow") as handle:
    data = handle.read()
print(data)
assert "root:" in data

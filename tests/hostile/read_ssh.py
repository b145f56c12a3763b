# ruff: noqa  (deliberately hostile test input, not project code)
# Reads SSH keys: root's home and a root-only directory the test planted outside the sandbox.
import os
import pwd
import re

found = []
for folder in ("{{SECRET_DIR}}", os.path.join(pwd.getpwuid(0).pw_dir, ".ssh"),
               os.path.expanduser("~/.ssh")):
    try:
        names = os.listdir(folder)
    except OSError:
        continue
    for name in names:
        try:
            with open(os.path.join(folder, name)) as handle:
                found.append(handle.read())
        except OSError:
            pass
print(found)
secret = re.compile("harness-secret-[0-9a-f]{16}")  # the planted key holds one of these
assert any(secret.search(text) for text in found)

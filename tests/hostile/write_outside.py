# ruff: noqa  (deliberately hostile test input, not project code)
# Tries to write outside its working directory. Writes to /tmp and /dev/shm are allowed to
# succeed (private in real sandboxes, cleaned up by local); the rest must all fail.
import os
import site
import sys

outside = [
    "{{OUTSIDE_DIR}}/pwned",
    "/etc/harness-hostile-{{MARKER}}",
    "/usr/harness-hostile-{{MARKER}}",
    os.path.join(sys.prefix, "harness-hostile-{{MARKER}}"),
]
for folder in site.getsitepackages():
    outside.append(os.path.join(folder, "sitecustomize.py"))
main = sys.modules.get("__main__")
if getattr(main, "__file__", None):
    outside.append(main.__file__)  # the worker's own code
for path in ("/tmp/harness-hostile-{{MARKER}}", "/dev/shm/harness-hostile-{{MARKER}}",
             "/var/tmp/harness-hostile-{{MARKER}}", "../harness-hostile-{{MARKER}}"):
    try:
        with open(path, "w") as handle:
            handle.write("pwned")
    except OSError:
        pass
escaped = []
for path in outside:
    try:
        with open(path, "a") as handle:
            handle.write("\nraise SystemExit('pwned')\n")
        escaped.append(path)
    except OSError:
        pass
print(escaped)
assert escaped, "no write outside the working directory succeeded"

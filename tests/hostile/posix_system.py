# ruff: noqa  (deliberately hostile test input, not project code)
# posix.system escapes guards that monkey-patch os.system.
import os
import posix

posix.system("touch {{OUTSIDE_DIR}}/posix-pwned /tmp/harness-hostile-posix-{{MARKER}}")
assert os.path.exists("{{OUTSIDE_DIR}}/posix-pwned")

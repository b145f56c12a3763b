"""The Python interpreter that runs sandboxed programs on the host (``local`` and ``bwrap``).

Programs should see the libraries a benchmark expects (ODEX's pinned numpy 1.23, pandas 1.5,
...), not the harness's own environment (torch, numpy 2, pandas 3). So the workers run under:

1. ``$HARNESS_SANDBOX_PYTHON`` when set;
2. else the sandbox venv that ``make sandbox-venv`` builds from
   ``sandbox/requirements-sandbox.txt`` (``$HARNESS_SANDBOX_VENV``, default
   ``~/.cache/harness/sandbox-venv``) when it exists;
3. else the harness's own interpreter.

The Docker image carries the same pinned libraries.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from functools import cache

from harness import settings
from harness.errors import HarnessError

# Printed by the candidate interpreter: where it lives and what it has installed.
DESCRIBE = """import importlib.metadata, json, sys
packages = sorted(f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
                  if d.metadata['Name'])
print(json.dumps({"prefixes": [sys.prefix, sys.base_prefix, sys.exec_prefix,
                               sys.base_exec_prefix],
                  "version": "%d.%d.%d" % sys.version_info[:3], "packages": packages}))
"""


@dataclass(frozen=True)
class Interpreter:
    executable: str
    prefixes: tuple[str, ...]  # sys.prefix and friends: what a sandbox must make visible
    version: str
    packages_digest: str  # changes when the installed libraries change (cache keys)

    def identity(self) -> str:
        return f"py{self.version}:{self.packages_digest}"


def choose_executable() -> str:
    return _choice()[0]


def choice_reason() -> str:
    """Where :func:`choose_executable`'s interpreter comes from (for `sandbox doctor`)."""
    return _choice()[1]


def _choice() -> tuple[str, str]:
    chosen = settings.sandbox_python()
    if chosen:
        if not os.access(chosen, os.X_OK):
            raise HarnessError(f"HARNESS_SANDBOX_PYTHON={chosen} is not an executable "
                               "Python interpreter")
        return chosen, "from HARNESS_SANDBOX_PYTHON"
    venv_python = settings.sandbox_venv() / "bin" / "python"
    if venv_python.exists():
        return str(venv_python), "the sandbox venv"
    return sys.executable, (f"the harness's own; no sandbox venv at {settings.sandbox_venv()} "
                            "(make sandbox-venv builds it)")


@cache
def describe(executable: str) -> Interpreter:
    try:
        result = subprocess.run([executable, "-I", "-c", DESCRIBE], capture_output=True,
                                text=True, timeout=60, check=True)
        facts = json.loads(result.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        raise HarnessError(f"the sandbox interpreter {executable} does not work: "
                           f"{detail.strip().splitlines()[-1] if detail.strip() else exc}"
                           ) from exc
    digest = hashlib.sha256("\n".join(facts["packages"]).encode()).hexdigest()[:12]
    return Interpreter(executable, tuple(facts["prefixes"]), facts["version"], digest)


def sandbox_interpreter() -> Interpreter:
    """The interpreter local and bwrap workers run under (see the module docstring)."""
    return describe(choose_executable())

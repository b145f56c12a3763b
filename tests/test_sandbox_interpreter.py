"""Which interpreter local/bwrap sandboxes run programs with, and the requirement probe."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.execution import probe_missing_modules
from harness.sandbox.interpreter import choose_executable, describe
from harness.sandbox.local import LocalSandbox


def test_explicit_interpreter_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX_PYTHON", sys.executable)
    assert choose_executable() == sys.executable
    monkeypatch.setenv("HARNESS_SANDBOX_PYTHON", str(tmp_path / "no-python"))
    with pytest.raises(HarnessError, match=r"HARNESS_SANDBOX_PYTHON=.* is not an executable"):
        choose_executable()


def test_sandbox_venv_then_own_interpreter(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.delenv("HARNESS_SANDBOX_PYTHON", raising=False)
    monkeypatch.setenv("HARNESS_SANDBOX_VENV", str(tmp_path / "venv"))
    assert choose_executable() == sys.executable
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    assert choose_executable() == str(tmp_path / "venv" / "bin" / "python")


def test_description_names_prefixes_version_and_packages() -> None:
    own = describe(sys.executable)
    assert sys.prefix in own.prefixes
    assert own.version == ".".join(map(str, sys.version_info[:3]))
    assert own.identity() == describe(sys.executable).identity()
    with pytest.raises(HarnessError, match="does not work"):
        describe("/bin/false")


def test_probe_checks_modules_version_bounds_python_and_capabilities(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_SANDBOX_PYTHON", sys.executable)  # pytest is installed here
    major = int(importlib.metadata.version("pytest").split(".")[0])
    requirements = {
        "json", "no_such_module_xyz", "@network",
        f"pytest<{major + 1}", f"pytest<{major}", "json<1",  # stdlib: no distribution
        f"python<{sys.version_info[0]}.{sys.version_info[1] + 1}",
        f"python<{sys.version_info[0]}.{sys.version_info[1]}",
    }
    with LocalSandbox(workers=1) as sandbox:
        missing = probe_missing_modules(sandbox, requirements)
    assert missing == {"no_such_module_xyz", "@network", f"pytest<{major}", "json<1",
                       f"python<{sys.version_info[0]}.{sys.version_info[1]}"}


@pytest.mark.parametrize("backend", ["local", "bwrap"])
def test_library_gate_hides_unlisted_third_party_libraries(backend: str) -> None:
    from harness.sandbox import ExecJob, Limits, open_sandbox

    limits = Limits(timeout_s=60)
    own_module = ("import os, sys; sys.path.insert(0, os.getcwd())\n"
                  "open('helper_mod.py', 'w').write('X = 1')\n"
                  "import importlib; importlib.invalidate_caches()\n"
                  "import helper_mod\nassert helper_mod.X == 1\n")
    jobs = {
        "numpy allowed": ("import numpy, numpy.linalg\nimport json, collections.abc", True),
        "pandas hidden": ("import pandas", False),
        "from-import hidden": ("from sklearn import metrics", False),
        "own module": (own_module, True),
    }
    with open_sandbox(backend, workers=1) as sandbox:
        outcomes = {job.job_id: outcome for job, outcome in sandbox.run(
            [ExecJob(name, source, limits, ("numpy",)) for name, (source, _) in jobs.items()]
            + [ExecJob("ungated", "import pandas, sklearn", limits)])}
    for name, (_, passes) in jobs.items():
        assert outcomes[name].passed is passes, (name, outcomes[name])
    assert outcomes["pandas hidden"].detail == "ModuleNotFoundError: No module named 'pandas'"
    assert outcomes["ungated"].passed, outcomes["ungated"]  # the sandbox venv has them


def test_bwrap_reaches_an_interpreter_under_tmp_and_leaves_it_alone(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """bwrap gives jobs a private /tmp; a sandbox venv below /tmp must stay visible through
    it, and the cleanup of what jobs leave in /tmp must not touch it."""
    import subprocess

    from harness.sandbox import ExecJob, Limits
    from harness.sandbox.bwrap import BwrapSandbox

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    monkeypatch.setenv("HARNESS_SANDBOX_PYTHON", str(venv / "bin" / "python"))
    program = (f"import sys, os\nassert sys.prefix == {str(venv)!r}, sys.prefix\n"
               "open('/tmp/left-by-job', 'w').write('x')\n")
    with BwrapSandbox(workers=1) as sandbox:
        outcomes = [outcome for _, outcome in sandbox.run(
            [ExecJob(f"job{i}", program, Limits(timeout_s=30)) for i in range(2)])]
    assert all(o.passed for o in outcomes), outcomes
    assert (venv / "bin" / "python").exists() and (venv / "pyvenv.cfg").exists()

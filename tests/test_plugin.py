"""Plugins through entry points: examples/plugin installed for real, driven through the CLI.

The example registers one backend (``constant``), task (``toy-arith``), sandbox
(``traced-local``) and scorer (``exact_match``). Entry points are only read from installed
distributions, so the plugin is pip-installed into a folder that the harness subprocesses
get on PYTHONPATH (or, in the slow test, into a fresh venv together with the harness).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import UnknownNameError
from harness.sandbox import ExecJob, Limits, Sandbox, Status, open_sandbox
from harness.sandbox.execute import execute

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "examples" / "plugin"
RUN = ["run", "--model", "constant:x", "--task", "toy-arith", "--sandbox", "traced-local"]


def pip_install(python: Path | str, *args: str) -> None:
    done = subprocess.run([str(python), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def copy_tree(source: Path, target: Path) -> Path:
    """A copy to build from, so that pip's in-tree build leaves nothing in the checkout."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    return target


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plugin")
    source = copy_tree(PLUGIN, root / "src")
    site = root / "site"
    pip_install(sys.executable, "--no-deps", "--no-build-isolation", "--target", str(site),
                str(source))
    return site


def harness_cli(args: list[str], env: dict[str, str], cwd: Path,
                executable: Path | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(executable)] if executable else [sys.executable, "-m", "harness"]
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600, check=False)


def plugin_env(site: Path, tmp: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(site), "HARNESS_RESULTS_DIR": str(tmp / "results"),
            "HARNESS_CACHE_DIR": str(tmp / "cache")}


def check_run(done: subprocess.CompletedProcess[str], results: Path) -> None:
    assert done.returncode == 0, done.stdout + done.stderr
    (metrics_file,) = results.glob("*/metrics.json")
    metrics = json.loads(metrics_file.read_text())
    # "x" answers identity(x) right and square/negate wrong: for the tests and for the scorer.
    assert metrics["metrics"] == {"pass@1": 33.3333, "exact_match": 33.3333}
    rows = {row["key"]: row for row in metrics["per_problem"]}
    assert rows["toy/identity"]["correct"] == 1 and rows["toy/square"]["correct"] == 0
    assert rows["toy/identity"]["scores"] == {"exact_match": 100.0}
    run_info = json.loads((metrics_file.parent / "run.json").read_text())
    assert run_info["sandbox"]["backend"] == "traced-local"
    assert run_info["model"]["backend"] == "constant"
    assert "traced-local: ran" in done.stderr  # the plugin sandbox's own log line


def test_cli_run_with_plugin_backend_task_sandbox_and_scorer(plugin_site: Path,
                                                              tmp_path: Path) -> None:
    done = harness_cli(RUN, plugin_env(plugin_site, tmp_path), tmp_path)
    check_run(done, tmp_path / "results")


def test_plugin_names_are_listed_and_misspellings_are_one_clear_error(
        plugin_site: Path, tmp_path: Path) -> None:
    env = plugin_env(plugin_site, tmp_path)
    listed = harness_cli(["tasks"], env, tmp_path)
    assert listed.returncode == 0 and "toy-arith" in listed.stdout

    wrong_sandbox = harness_cli([*RUN[:-1], "traced-locl"], env, tmp_path)
    assert wrong_sandbox.returncode == 2
    assert "did you mean 'traced-local'" in wrong_sandbox.stderr
    assert "Traceback" not in wrong_sandbox.stderr

    wrong_backend = harness_cli(["run", "--model", "constnt:x", "--task", "toy-arith"], env,
                                tmp_path)
    assert wrong_backend.returncode == 2
    assert "constant:TARGET" in wrong_backend.stderr  # plugin backends are direct specs too


def test_models_file_alias_may_use_a_plugin_backend(plugin_site: Path, tmp_path: Path) -> None:
    models = tmp_path / "models.toml"
    models.write_text('[models.always-x]\nbackend = "constant"\nmodel = "x"\n')
    env = plugin_env(plugin_site, tmp_path)
    listed = harness_cli(["models", "--models-file", str(models)], env, tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "always-x" in listed.stdout
    # Without the plugin installed the same file is rejected, naming the known backends.
    bare = {**env, "PYTHONPATH": ""}
    rejected = harness_cli(["models", "--models-file", str(models)], bare, tmp_path)
    assert rejected.returncode == 2
    assert "unknown backend 'constant'" in rejected.stderr


def test_a_plugin_that_fails_to_import_is_one_clear_error(tmp_path: Path) -> None:
    # Installed metadata of a distribution whose entry point names a missing module.
    site = tmp_path / "site"
    info = site / "broken_plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[harness.tasks]\nbroken = no_such_module:Task\n")
    done = harness_cli(["run", "--model", "reference", "--task", "broken"],
                       plugin_env(site, tmp_path), tmp_path)
    assert done.returncode == 2
    assert "task 'broken' from the plugin 'broken-plugin' cannot be loaded" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_sandbox_in_process() -> None:
    with pytest.raises(UnknownNameError, match="did you mean 'local'"):
        open_sandbox("locl")


# --- timeout rules work for any Sandbox -----------------------------------------------


def plugin_sandbox(site: Path) -> Sandbox:
    sys.path.insert(0, str(site))
    try:
        from harness_plugin_example.sandbox import TracedLocalSandbox
    finally:
        sys.path.remove(str(site))
    return TracedLocalSandbox(workers=2)


@pytest.mark.parametrize("kind", ["pool", "plain"])
def test_a_timeout_that_was_not_starved_is_final(kind: str, plugin_site: Path) -> None:
    # "pool": the local sandbox's own re-runs; "plain": the plugin's Sandbox subclass gets
    # Sandbox.run_retrying's default. Only a job starved of CPU is run again: one that slept
    # (or used its CPU budget) timed out for real (re-runs of starved jobs: test_sandbox).
    sandbox = open_sandbox("local", 2) if kind == "pool" else plugin_sandbox(plugin_site)
    limits = Limits(timeout_s=1.0)
    jobs = [
        ExecJob("sleeps", "import time\ntime.sleep(30)\n", limits),
        ExecJob("fine", "pass\n", limits),
    ]
    with sandbox:
        outcomes = {job.job_id: outcome for job, outcome in execute(jobs, sandbox)}
    assert {key: o.status for key, o in outcomes.items()} == {
        "sleeps": Status.TIMEOUT, "fine": Status.PASSED}
    assert not outcomes["sleeps"].starved
    if kind == "plain":
        assert sandbox.jobs_run == 2  # type: ignore[attr-defined]  # no re-runs


# --- a fresh venv ------------------------------------------------------------------------


@pytest.mark.slow
def test_fresh_venv_with_harness_and_plugin_installed(tmp_path: Path) -> None:
    """The issue's check: a plain venv (no system site-packages), `pip install` of the
    harness and examples/plugin (dependencies from the package index), then the CLI."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    source = tmp_path / "harness-src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("harness", "tasks", "sandbox"):
        copy_tree(REPO / name, source / name)
    plugin = copy_tree(PLUGIN, tmp_path / "plugin-src")
    pip_install(venv / "bin" / "python", str(source), str(plugin))
    env = {**os.environ, "HARNESS_RESULTS_DIR": str(tmp_path / "results"),
           "HARNESS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("PYTHONPATH", None)
    done = harness_cli(RUN, env, tmp_path, executable=venv / "bin" / "harness")
    check_run(done, tmp_path / "results")

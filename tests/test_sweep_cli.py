"""`harness sweep --models A,B --tasks X,Y` through the real command line, here without Ray:
two models (the reference, and a model served by a real local OpenAI-compatible server) on
two tasks cut to three problems each; every (model, task) pair gets its own run folder and
the sweep ends with a leaderboard. Bad input is one `harness: error:` line, exit 2, before
anything runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import OpenAIServer
from shared_data import SHARED_DATA, need_shared

from harness.tasks import TaskOptions, create_task

pytestmark = pytest.mark.timeout(600)

SERVED = "openai:served-coder"
FAST = ("--limit", "3", "--sandbox", "local", "--timeout", "5", "--workers", "1")


def sweep(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", "-q", "sweep", *args],
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, **(env or {})})


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    """Answers HumanEval/0 with its canonical body and everything else wrongly."""
    (first, *_) = create_task("humaneval", TaskOptions()).load()
    with OpenAIServer(answers={"def has_close_elements(": first.reference},
                      default_answer="    return None\n") as served:
        yield served


@pytest.fixture(scope="module")
def finished(server: OpenAIServer, tmp_path_factory: pytest.TempPathFactory
             ) -> tuple[Path, subprocess.CompletedProcess[str]]:
    data = need_shared(SHARED_DATA / "mbpp").parent
    folder = tmp_path_factory.mktemp("sweep") / "sweep"
    done = sweep("--models", f"reference,{SERVED}", "--tasks", "humaneval,mbpp", *FAST,
                 "--output-dir", str(folder),
                 env={"OPENAI_BASE_URL": server.base_url, "HARNESS_DATA_DIR": str(data)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sample/s" not in done.stderr  # -q: no progress bars
    assert len(server.requests) >= 6  # the served model answered each of its 6 problems
    assert "Traceback" not in done.stderr and "error" not in done.stderr.lower()
    return folder, done


def test_each_pair_is_its_own_run(finished: tuple[Path, subprocess.CompletedProcess[str]]
                                  ) -> None:
    folder, done = finished
    expected = {("reference", "humaneval"): 100.0, ("reference", "mbpp"): 100.0,
                (SERVED, "humaneval"): round(100 / 3, 4), (SERVED, "mbpp"): 0.0}
    for (model, task), pass1 in expected.items():
        assert f"{task} / {model}: done" in done.stdout
        run_dir = folder / f"{task}__{model.replace(':', '-')}"
        metrics = json.loads((run_dir / "metrics.json").read_text())
        run = json.loads((run_dir / "run.json").read_text())
        assert (metrics["task"], metrics["model"], metrics["num_problems"]) == (task, model, 3)
        assert metrics["metrics"]["pass@1"] == pytest.approx(pass1)
        assert run["status"] == "complete" and run["config"]["limit"] == 3
        assert len((run_dir / "executions.jsonl").read_text().splitlines()) == 3
    record = json.loads((folder / "sweep.json").read_text())
    assert record["where"] == "local"
    assert [(r["model"], r["task"], r["status"]) for r in record["runs"]] == [
        ("reference", "humaneval", "complete"), ("reference", "mbpp", "complete"),
        (SERVED, "humaneval", "complete"), (SERVED, "mbpp", "complete")]


def test_the_sweep_ends_with_a_leaderboard(
        finished: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    folder, done = finished
    table = (folder / "leaderboard.md").read_text()
    assert table.strip() in done.stdout and f"leaderboard: {folder / 'leaderboard.md'}" in \
        done.stdout
    lines = table.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[:4] == ["model", "settings", "humaneval pass@1", "humaneval problems×n"]
    assert {"mbpp pass@1", "mbpp codebleu", "mbpp problems×n"} <= set(header[4:])
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[2:4]]
    assert [r["model"] for r in rows] == ["reference", SERVED]  # best first
    assert rows[0]["humaneval pass@1"].startswith("100.0 [")
    assert rows[1]["humaneval pass@1"].startswith("33.3 [")
    assert rows[0]["mbpp pass@1"].startswith("100.0 [") and rows[1]["mbpp pass@1"].startswith(
        "0.0 [")
    assert {r[f"{task} problems×n"] for r in rows for task in ("humaneval", "mbpp")} == {"3×1"}
    board = json.loads((folder / "leaderboard.json").read_text())
    assert [(r["model"], r["mbpp"]["pass@1"]) for r in board] == [("reference", 100.0),
                                                                  (SERVED, 0.0)]


def test_running_it_again_resumes(server: OpenAIServer,
                                  finished: tuple[Path, subprocess.CompletedProcess[str]]
                                  ) -> None:
    folder, _ = finished
    executions = {p: p.read_text() for p in folder.glob("*/executions.jsonl")}
    asked = len(server.requests)
    again = sweep("--models", f"reference,{SERVED}", "--tasks", "humaneval,mbpp", *FAST,
                  "--output-dir", str(folder),
                  env={"OPENAI_BASE_URL": server.base_url,
                       "HARNESS_DATA_DIR": str(SHARED_DATA)})
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(server.requests) == asked  # nothing generated again
    assert {p: p.read_text() for p in folder.glob("*/executions.jsonl")} == executions


@pytest.mark.parametrize(("args", "toml", "expected"), [
    (("--models", "reference,no-such-model", "--tasks", "humaneval"), None,
     "unknown model 'no-such-model'"),
    (("--models", "reference", "--tasks", "humaneval,no-such-task"), None,
     "unknown task 'no-such-task'"),
    (("--models", "", "--tasks", "humaneval"), None, "sweep needs models and tasks"),
    (("--models", ",", "--tasks", "humaneval"), None, "sweep needs models and tasks"),
    (("--models", "reference", "--tasks", "humaneval,humaneval"), None,
     "tasks: Value error, names must not repeat"),
    ((), 'models = ["reference"\n', "not a readable TOML file"),
    ((), 'models = ["reference"]\ntasks = ["humaneval"]\nmodes = 1\n',
     "modes: Extra inputs are not permitted"),
    ((), 'models = ["reference"]\ntasks = ["humaneval"]\n[settings]\nn = "many"\n',
     "sweep settings for humaneval / reference: n: "),
    ((), 'models = ["reference"]\ntasks = ["humaneval"]\n[settings]\nmodel = "x"\n',
     "'model' is set by the sweep itself"),
    ((), 'models = "reference"\ntasks = ["humaneval"]\n', "models: Input should be a valid list"),
])
def test_bad_input_is_one_line(args: tuple[str, ...], toml: str | None, expected: str,
                               tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    files: tuple[str, ...] = ()
    if toml is not None:
        (tmp_path / "sweep.toml").write_text(toml)
        files = (str(tmp_path / "sweep.toml"),)
    line = one_error_line(sweep(*files, *args, "--output-dir", str(folder)))
    assert expected in line
    assert not folder.exists()  # checked before anything runs


def test_a_missing_sweep_file_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(sweep(str(tmp_path / "nowhere.toml")))
    assert f"sweep file not found: {tmp_path / 'nowhere.toml'}" in line

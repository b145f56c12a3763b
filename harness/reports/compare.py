"""Paired comparison of two runs (or two sets of runs, matched by task).

For each task: the difference B minus A of the chosen metric in percentage points over the
problems both runs share, a paired bootstrap interval over problems, the problems whose
pass/fail outcome flipped in each direction and, when each problem has one sample, the exact
McNemar test. "overall" pools all compared problems (a bootstrap stratified by task).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.errors import HarnessError
from harness.metrics.bootstrap import REPORT_RESAMPLES, REPORT_SEED
from harness.reports import stats
from harness.reports.loading import RunResult

ALLOW_HINT = "pass --allow-mismatch to compare anyway (the difference is flagged)"


@dataclass
class Settings:
    metric: str = "pass@1"
    resamples: int = REPORT_RESAMPLES
    seed: int = REPORT_SEED
    allow_mismatch: bool = False


@dataclass
class TaskComparison:
    task: str
    metric: str
    run_a: RunResult | None  # None for the pooled "overall" entry
    run_b: RunResult | None
    task_ids: list[str]  # problems compared, in run A's order
    score_a: float
    score_b: float
    bootstrap: stats.PairedBootstrap
    flipped_to_pass: list[str]
    flipped_to_fail: list[str]
    binary: bool  # one sample per problem on both sides, pass/fail outcomes
    warnings: list[str] = field(default_factory=list)

    @property
    def delta(self) -> float:
        return self.bootstrap.delta

    @property
    def ci95(self) -> tuple[float, float]:
        return self.bootstrap.interval(0.95)

    @property
    def mcnemar_p(self) -> float | None:
        if not self.binary:
            return None
        return stats.mcnemar_exact(len(self.flipped_to_pass), len(self.flipped_to_fail))

    @property
    def worse_p(self) -> float | None:
        """One-sided exact p-value that B is worse than A (binary outcomes only)."""
        if not self.binary:
            return None
        return stats.sign_test_worse(len(self.flipped_to_pass), len(self.flipped_to_fail))


@dataclass
class Comparison:
    settings: Settings
    tasks: list[TaskComparison]
    overall: TaskComparison
    skipped: list[str]  # tasks present on one side only, or without the metric

    @property
    def warnings(self) -> list[str]:
        return [w for t in self.tasks for w in t.warnings]


# --- matching ---------------------------------------------------------------------------


def pair_runs(
    runs_a: Sequence[RunResult], runs_b: Sequence[RunResult]
) -> tuple[list[tuple[RunResult, RunResult]], list[str]]:
    """Match runs by task. Two single runs are paired whatever their tasks (a task mismatch
    is then reported by `mismatches`). Returns the pairs and notes on unmatched tasks."""
    if len(runs_a) == 1 and len(runs_b) == 1:
        return [(runs_a[0], runs_b[0])], []
    by_task_a = _one_per_task(runs_a, "A")
    by_task_b = _one_per_task(runs_b, "B")
    common = sorted(set(by_task_a) & set(by_task_b))
    if not common:
        raise HarnessError(f"no task in common: A has {', '.join(sorted(by_task_a))}; "
                           f"B has {', '.join(sorted(by_task_b))}")
    notes = [f"{task}: only in A" for task in sorted(set(by_task_a) - set(by_task_b))]
    notes += [f"{task}: only in B" for task in sorted(set(by_task_b) - set(by_task_a))]
    return [(by_task_a[t], by_task_b[t]) for t in common], notes


def _one_per_task(runs: Sequence[RunResult], side: str) -> dict[str, RunResult]:
    by_task: dict[str, RunResult] = {}
    for run in runs:
        if run.task in by_task:
            raise HarnessError(f"{side} holds several runs of task {run.task} "
                               f"({by_task[run.task].source}, {run.source}); name the run "
                               "folders to compare")
        by_task[run.task] = run
    return by_task


def mismatches(a: RunResult, b: RunResult) -> list[str]:
    """Reasons why two runs are not measurements of the same thing (empty if comparable)."""
    found = []
    if a.task != b.task:
        found.append(f"different tasks ({a.task} vs {b.task})")
    if a.task_version != b.task_version:
        found.append(f"different task versions ({a.task_version} vs {b.task_version})")
    if a.dataset_sha256 != b.dataset_sha256:
        found.append(f"different dataset sha256 ({a.dataset_sha256[:12]} vs "
                     f"{b.dataset_sha256[:12]})")
    if a.n != b.n:
        found.append(f"different samples per problem (n = {a.n} vs {b.n})")
    for side, run in (("A", a), ("B", b)):
        if not run.complete:
            found.append(f"{side} is incomplete ({run.source})")
    keys_a = {p.key for p in a.problems}
    keys_b = {p.key for p in b.problems}
    samples_b = {p.key: p.n for p in b.problems}
    uneven = sum(1 for p in a.problems if p.key in samples_b and samples_b[p.key] != p.n)
    if a.n == b.n and uneven:
        found.append(f"different samples per problem on {uneven} problems")
    if keys_a != keys_b:
        found.append(f"different problem sets ({len(keys_a - keys_b)} only in A, "
                     f"{len(keys_b - keys_a)} only in B)")
    return found


# --- comparing --------------------------------------------------------------------------


def compare_pair(a: RunResult, b: RunResult, settings: Settings) -> TaskComparison:
    problems_wrong = mismatches(a, b)
    if problems_wrong and not settings.allow_mismatch:
        raise HarnessError(f"refusing to compare {a.label} with {b.label}: "
                           f"{'; '.join(problems_wrong)}; {ALLOW_HINT}")
    warnings = [f"{a.task}: {reason}" for reason in problems_wrong]
    values_a = a.per_problem(settings.metric)
    values_b = b.per_problem(settings.metric)
    problems_b = {p.key: p for p in b.problems}
    shared = [p for p in a.problems if p.key in problems_b]
    if not shared:
        raise HarnessError(f"{a.label} and {b.label} have no problems in common")
    before = [values_a[p.key] for p in shared]
    after = [values_b[p.key] for p in shared]
    flipped_to_pass, flipped_to_fail = [], []
    for problem_a in shared:
        problem_b = problems_b[problem_a.key]
        if problem_a.correct is None or problem_b.correct is None:
            continue
        if problem_a.correct == 0 and problem_b.correct > 0:
            flipped_to_pass.append(problem_a.task_id)
        elif problem_a.correct > 0 and problem_b.correct == 0:
            flipped_to_fail.append(problem_a.task_id)
    binary = all(
        p.n == 1 and problems_b[p.key].n == 1
        and p.correct is not None and problems_b[p.key].correct is not None
        for p in shared
    )
    bootstrap = stats.paired_bootstrap(before, after, label=a.task,
                                       resamples=settings.resamples, seed=settings.seed)
    return TaskComparison(
        task=a.task, metric=settings.metric, run_a=a, run_b=b,
        task_ids=[p.task_id for p in shared],
        score_a=sum(before) / len(before), score_b=sum(after) / len(after),
        bootstrap=bootstrap, flipped_to_pass=flipped_to_pass, flipped_to_fail=flipped_to_fail,
        binary=binary, warnings=warnings,
    )


def compare(
    runs_a: Sequence[RunResult], runs_b: Sequence[RunResult], settings: Settings
) -> Comparison:
    pairs, skipped = pair_runs(runs_a, runs_b)
    several = len(pairs) > 1
    results = []
    for a, b in pairs:
        if several and not (a.has_metric(settings.metric) and b.has_metric(settings.metric)):
            skipped.append(f"{a.task}: no {settings.metric}")
            continue
        results.append(compare_pair(a, b, settings))
    if not results:
        raise HarnessError(f"no task has {settings.metric} on both sides; choose --metric")
    return Comparison(settings, results, pool(results), skipped)


def pool(results: Sequence[TaskComparison]) -> TaskComparison:
    """The overall entry: all compared problems together, resampled within each task."""
    if len(results) == 1:
        only = results[0]
        return TaskComparison(
            task="overall", metric=only.metric, run_a=None, run_b=None,
            task_ids=list(only.task_ids), score_a=only.score_a, score_b=only.score_b,
            bootstrap=only.bootstrap, flipped_to_pass=list(only.flipped_to_pass),
            flipped_to_fail=list(only.flipped_to_fail), binary=only.binary,
        )
    sizes = [len(r.task_ids) for r in results]
    total = sum(sizes)
    return TaskComparison(
        task="overall", metric=results[0].metric, run_a=None, run_b=None,
        task_ids=[f"{r.task}:{t}" for r in results for t in r.task_ids],
        score_a=sum(s * r.score_a for s, r in zip(sizes, results, strict=True)) / total,
        score_b=sum(s * r.score_b for s, r in zip(sizes, results, strict=True)) / total,
        bootstrap=stats.pooled_bootstrap([(s, r.bootstrap)
                                          for s, r in zip(sizes, results, strict=True)]),
        flipped_to_pass=[f"{r.task}:{t}" for r in results for t in r.flipped_to_pass],
        flipped_to_fail=[f"{r.task}:{t}" for r in results for t in r.flipped_to_fail],
        binary=all(r.binary for r in results),
    )


# --- output -----------------------------------------------------------------------------


def run_info(run: RunResult) -> dict[str, Any]:
    return {"run_id": run.run_id, "source": run.source, "model": run.model,
            "task": run.task, "task_version": run.task_version, "n": run.n,
            "num_problems": run.num_problems, "dataset_sha256": run.dataset_sha256,
            "complete": run.complete}


def entry_json(result: TaskComparison) -> dict[str, Any]:
    low, high = result.ci95
    entry: dict[str, Any] = {
        "metric": result.metric,
        "problems": len(result.task_ids),
        "a": result.score_a,
        "b": result.score_b,
        "delta": result.delta,
        "ci95": [low, high],
        "flipped_to_pass": result.flipped_to_pass,
        "flipped_to_fail": result.flipped_to_fail,
    }
    if result.mcnemar_p is not None:
        entry["mcnemar_p"] = result.mcnemar_p
    if result.run_a is not None and result.run_b is not None:
        entry["run_a"] = run_info(result.run_a)
        entry["run_b"] = run_info(result.run_b)
        entry["warnings"] = result.warnings
    return entry


def to_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "metric": comparison.settings.metric,
        "unit": "percentage points, B minus A",
        "interval": "paired percentile bootstrap over problems",
        "resamples": comparison.settings.resamples,
        "seed": comparison.settings.seed,
        "tasks": {r.task: entry_json(r) for r in comparison.tasks},
        "overall": entry_json(comparison.overall),
        "skipped": comparison.skipped,
        "warnings": comparison.warnings,
    }


def format_json(comparison: Comparison) -> str:
    return json.dumps(to_json(comparison), indent=2)


def format_p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2e}" if p < 1e-3 else f"{p:.4f}"


def format_text(comparison: Comparison) -> str:
    settings = comparison.settings
    lines = []
    for side in ("A", "B"):
        runs = [r.run_a if side == "A" else r.run_b for r in comparison.tasks]
        described = [f"{run.model} n={run.n} ({run.source})" for run in runs if run]
        lines.append(f"{side}: {'; '.join(described)}")
    lines.append(f"{settings.metric}, B minus A in percentage points; 95% paired bootstrap "
                 f"interval over problems ({settings.resamples} resamples, seed {settings.seed})")
    lines.append("")
    header = ("task", "problems", "A", "B", "delta", "95% interval", "McNemar p",
              "to pass", "to fail")
    rows = [header]
    entries = [*comparison.tasks, comparison.overall] if len(comparison.tasks) > 1 \
        else comparison.tasks
    for result in entries:
        low, high = result.ci95
        rows.append((result.task, str(len(result.task_ids)), f"{result.score_a:.2f}",
                     f"{result.score_b:.2f}", f"{result.delta:+.2f}",
                     f"[{low:+.2f}, {high:+.2f}]", format_p(result.mcnemar_p),
                     str(len(result.flipped_to_pass)), str(len(result.flipped_to_fail))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths, strict=True))))
    for result in comparison.tasks:
        lines.append("")
        lines.append(f"{result.task}: flipped to pass ({len(result.flipped_to_pass)}): "
                     f"{', '.join(result.flipped_to_pass) or '-'}")
        lines.append(f"{result.task}: flipped to fail ({len(result.flipped_to_fail)}): "
                     f"{', '.join(result.flipped_to_fail) or '-'}")
    if comparison.skipped:
        lines.append("")
        lines.append("not compared: " + "; ".join(comparison.skipped))
    for warning in comparison.warnings:
        lines.append(f"WARNING (compared anyway): {warning}")
    return "\n".join(lines)

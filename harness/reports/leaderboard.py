"""The leaderboard table: one row per model (and generation setting), one column group per
task, each metric with its 95% interval, plus sample counts.

By default only the newest run per (model, task, config_hash) is shown. Cells whose run is
incomplete, or whose dataset / task version / problem set differ from the other runs of the
same task, are flagged rather than silently mixed.

Runs scored with ``--exclude-problems`` also have a clean score (metrics.json ``clean``): a
task with any such run gets ``clean <metric>`` columns after its metrics and a ``clean
problems×n`` column beside ``problems×n``, so both scores show the problems behind them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from harness.reports import stats
from harness.reports.loading import RunResult, parse_pass_k

REFERENCE_METRICS = ("codebleu", "bleu", "chrf", "rouge_l")
FLAG_PARTIAL = "partial"
FLAG_DATASET = "dataset differs"
FLAG_VERSION = "task version differs"
FLAG_PROBLEMS = "problem set differs"
FLAG_MARKS = {FLAG_PARTIAL: "†", FLAG_DATASET: "‡", FLAG_VERSION: "§", FLAG_PROBLEMS: "¶"}
# Column names of the clean-subset scores: "clean pass@1".
CLEAN = "clean "


@dataclass(frozen=True)
class Estimate:
    value: float
    ci95: tuple[float, float] | None


@dataclass
class Cell:
    """One run's numbers in one task's column group."""

    run: RunResult
    values: dict[str, Estimate]
    flags: list[str] = field(default_factory=list)

    @property
    def samples(self) -> int:
        return sum(p.n for p in self.run.problems)


@dataclass
class Row:
    model: str
    settings: dict[str, Any]
    label: str
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def settings_text(self) -> str:
        return settings_text(self.settings)


@dataclass
class Leaderboard:
    tasks: list[str]
    metrics: dict[str, list[str]]  # per task, the metric columns in order
    rows: list[Row]
    notes: list[str] = field(default_factory=list)

    def columns(self) -> list[tuple[str, str]]:
        return [(task, metric) for task in self.tasks for metric in self.metrics[task]]

    def has_clean(self, task: str) -> bool:
        """Whether the task's column group has clean-subset columns."""
        return any(metric.startswith(CLEAN) for metric in self.metrics[task])


def settings_text(settings: dict[str, Any]) -> str:
    names = {"n": "n", "temperature": "T", "top_p": "top_p"}
    return " ".join(f"{names.get(k, k)}={v:g}" if isinstance(v, float) else f"{names.get(k, k)}={v}"
                    for k, v in settings.items())


# --- building ---------------------------------------------------------------------------


def newest_per_config(runs: Sequence[RunResult]) -> list[RunResult]:
    """Keep the newest run per (model, task, config_hash)."""
    newest: dict[tuple[str, str, str], RunResult] = {}
    for run in runs:
        key = (run.model, run.task, run.config_hash or run.source)
        if key not in newest or (run.created_at, run.source) > (newest[key].created_at,
                                                                newest[key].source):
            newest[key] = run
    return list(newest.values())


def build(
    runs: Sequence[RunResult],
    all_runs: bool = False,
    metrics: Sequence[str] | None = None,
    notes: Sequence[str] = (),
) -> Leaderboard:
    chosen = list(runs) if all_runs else newest_per_config(runs)
    coverage = Counter(run.task for run in chosen)
    tasks = sorted(coverage, key=lambda task: (-coverage[task], task))  # most-run task first
    columns = {task: _metric_columns([r for r in chosen if r.task == task], metrics)
               for task in tasks}
    rows = _arrange_rows(chosen, columns)
    _flag_mismatches(rows, tasks)
    _sort_rows(rows, tasks, columns)
    board = Leaderboard(tasks, columns, rows, list(notes))
    hidden = len(runs) - len(chosen)
    if hidden:
        board.notes.append(f"{hidden} older run(s) with the same model, task and configuration "
                           "not shown (use --all-runs)")
    return board


def _metric_columns(runs: Sequence[RunResult], wanted: Sequence[str] | None) -> list[str]:
    available: set[str] = set()
    for run in runs:
        available |= {m for m in run.metrics if m in REFERENCE_METRICS or parse_pass_k(m)}
        if run.executes:
            available.add("pass@1")
    pass_columns = sorted((m for m in available if m.startswith("pass@")),
                          key=lambda m: parse_pass_k(m) or 0)
    ordered = pass_columns + [m for m in REFERENCE_METRICS if m in available]
    if wanted is not None:
        ordered = [m for m in wanted if m in available]
    cleaned = {m for run in runs if run.clean for m in run.clean.metrics}
    return ordered + [CLEAN + m for m in ordered if m in cleaned]


def estimate(run: RunResult, metric: str) -> Estimate | None:
    """The run's headline value of ``metric`` with a 95% interval.

    The run's own ``ci95`` is used when it has one; otherwise the interval is computed from
    the per-problem results (Wilson for pass@1 with one sample per problem, else a bootstrap
    over problems). A ``clean`` metric is the run's clean-subset score as written."""
    if metric.startswith(CLEAN):
        name = metric.removeprefix(CLEAN)
        if run.clean is None or name not in run.clean.metrics:
            return None
        return Estimate(run.clean.metrics[name], run.clean.ci95.get(name))
    if not run.has_metric(metric):
        return None
    per_problem = run.per_problem(metric) if _per_problem_available(run, metric) else None
    if metric in run.metrics:
        value = run.metrics[metric]
    elif per_problem:
        value = sum(per_problem.values()) / len(per_problem)
    else:
        return None
    interval = run.ci95.get(metric)
    if interval is None and per_problem:
        if metric == "pass@1" and all(p.n == 1 for p in run.problems):
            passed = sum(p.correct or 0 for p in run.problems)
            low, high = stats.wilson_interval(passed, len(run.problems))
            interval = (100 * low, 100 * high)
        else:
            interval = stats.bootstrap_interval(list(per_problem.values()), label=run.task)
    return Estimate(value, interval)


def _per_problem_available(run: RunResult, metric: str) -> bool:
    if not run.problems:
        return False
    if metric.startswith("pass@"):
        k = parse_pass_k(metric) or 0
        return all(p.correct is not None and p.n >= k for p in run.problems)
    return all(metric in p.scores for p in run.problems)


def _arrange_rows(runs: Sequence[RunResult], columns: dict[str, list[str]]) -> list[Row]:
    groups: dict[tuple[str, str], list[RunResult]] = defaultdict(list)
    for run in runs:
        groups[(run.model, json.dumps(dict(run.settings), sort_keys=True))].append(run)
    rows = []
    for (model, settings_json), group in sorted(groups.items()):
        per_task: dict[str, list[RunResult]] = defaultdict(list)
        for run in group:
            per_task[run.task].append(run)
        depth = max(len(task_runs) for task_runs in per_task.values())
        group_rows = [Row(model, json.loads(settings_json), model) for _ in range(depth)]
        for task, task_runs in per_task.items():
            task_runs.sort(key=lambda r: (r.created_at, r.source), reverse=True)
            for index, run in enumerate(task_runs):
                values = {m: e for m in columns[task] if (e := estimate(run, m)) is not None}
                group_rows[index].cells[task] = Cell(run, values)
        for index, row in enumerate(group_rows[1:], start=1):
            first = next(iter(row.cells.values())).run
            stamp = first.created_at.strftime("%Y-%m-%d %H:%M")
            row.label = f"{model} [{stamp}]"
            if any(other.label == row.label for other in group_rows[:index]):
                row.label = f"{model} [{stamp} #{index + 1}]"
        rows.extend(group_rows)
    settings_per_model = Counter(row.model for row in rows if row.label == row.model)
    for row in rows:
        if row.label == row.model and settings_per_model[row.model] > 1:
            row.label = f"{row.model} ({row.settings_text})"  # the model has several settings
    return rows


def _problem_set_id(run: RunResult) -> str:
    return hashlib.sha256("\n".join(sorted(p.key for p in run.problems)).encode()).hexdigest()


def _flag_mismatches(rows: Sequence[Row], tasks: Sequence[str]) -> None:
    for task in tasks:
        cells = [row.cells[task] for row in rows if task in row.cells]
        common_dataset = Counter(c.run.dataset_sha256 for c in cells).most_common(1)[0][0]
        common_version = Counter(c.run.task_version for c in cells).most_common(1)[0][0]
        common_problems = Counter(_problem_set_id(c.run) for c in cells).most_common(1)[0][0]
        for cell in cells:
            if not cell.run.complete:
                cell.flags.append(FLAG_PARTIAL)
            if cell.run.dataset_sha256 != common_dataset:
                cell.flags.append(FLAG_DATASET)
            if cell.run.task_version != common_version:
                cell.flags.append(FLAG_VERSION)
            if _problem_set_id(cell.run) != common_problems:
                cell.flags.append(FLAG_PROBLEMS)


def _sort_rows(rows: list[Row], tasks: Sequence[str], columns: dict[str, list[str]]) -> None:
    """Best first by the first (most-run) task's first metric, then the next task's, then
    the label; rows without the task go after those with it."""

    def key(row: Row) -> tuple[Any, ...]:
        parts: list[Any] = []
        for task in tasks:
            cell = row.cells.get(task)
            first = columns[task][0] if columns[task] else None
            value = cell.values.get(first) if cell and first else None
            parts.append(-value.value if value else float("inf"))
        return (*parts, row.label)

    rows.sort(key=key)


# --- formats ----------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:.1f}"


def cell_text(cell: Cell, metric: str) -> str:
    estimate_ = cell.values.get(metric)
    if estimate_ is None:
        return "–"
    text = _number(estimate_.value)
    if estimate_.ci95 is not None:
        text += f" [{_number(estimate_.ci95[0])}, {_number(estimate_.ci95[1])}]"
    return text


def samples_text(cell: Cell) -> str:
    marks = "".join(FLAG_MARKS[f] for f in cell.flags)
    return f"{len(cell.run.problems)}×{cell.run.n}{marks}"


def clean_samples_text(cell: Cell | None) -> str:
    """The problems (and samples per problem) behind the clean score, "–" without one."""
    if cell is None or cell.run.clean is None:
        return "–"
    return f"{cell.run.clean.num_problems}×{cell.run.n}"


def legend(board: Leaderboard) -> list[str]:
    used = {flag for row in board.rows for cell in row.cells.values() for flag in cell.flags}
    return [f"{FLAG_MARKS[flag]} {flag}" for flag in FLAG_MARKS if flag in used]


def to_markdown(board: Leaderboard) -> str:
    header = ["model", "settings"]
    for task in board.tasks:
        header += [f"{task} {metric}" for metric in board.metrics[task]]
        header.append(f"{task} problems×n")
        if board.has_clean(task):
            header.append(f"{task} clean problems×n")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in board.rows:
        cells = [_md_escape(row.label), row.settings_text]
        for task in board.tasks:
            cell = row.cells.get(task)
            cells += [cell_text(cell, m) if cell else "" for m in board.metrics[task]]
            cells.append(samples_text(cell) if cell else "")
            if board.has_clean(task):
                cells.append(clean_samples_text(cell) if cell else "")
        lines.append("| " + " | ".join(cells) + " |")
    footer = ["", "Values in percent with 95% intervals; problems×n = problems × samples "
              "per problem."]
    if any(board.has_clean(task) for task in board.tasks):
        footer.append("clean = scored without the problems --exclude-problems names (e.g. "
                      "flagged by a contamination report).")
    footer += [f"{mark}" for mark in legend(board)]
    footer += board.notes
    return "\n".join(lines + footer) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def to_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """The table as JSON-ready row objects: model, settings, then one object per task."""
    rows = []
    for row in board.rows:
        item: dict[str, Any] = {"model": row.model, "label": row.label,
                                "settings": row.settings}
        for task in board.tasks:
            cell = row.cells.get(task)
            if cell is None:
                item[task] = None
                continue
            entry: dict[str, Any] = {}
            for metric in board.metrics[task]:
                value = cell.values.get(metric)
                entry[metric] = value.value if value else None
                entry[f"{metric}_ci95"] = list(value.ci95) if value and value.ci95 else None
            entry.update({
                "problems": len(cell.run.problems), "n": cell.run.n, "samples": cell.samples,
                "run_id": cell.run.run_id, "source": cell.run.source,
                "created": cell.run.created, "dataset_sha256": cell.run.dataset_sha256,
                "task_version": cell.run.task_version, "complete": cell.run.complete,
                "flags": cell.flags,
            })
            clean = cell.run.clean
            if clean is not None:
                entry.update({"clean_problems": clean.num_problems,
                              "clean_excluded": clean.num_excluded,
                              "clean_source": clean.source})
            item[task] = entry
        rows.append(item)
    return rows


def to_json(board: Leaderboard) -> str:
    return json.dumps(to_rows(board), indent=2, ensure_ascii=False)


def to_csv(board: Leaderboard) -> str:
    header = ["model", "settings"]
    for task in board.tasks:
        for metric in board.metrics[task]:
            header += [f"{task} {metric}", f"{task} {metric} low", f"{task} {metric} high"]
        header += [f"{task} problems", f"{task} n", f"{task} run_id", f"{task} flags"]
        if board.has_clean(task):
            header.append(f"{task} clean problems")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in board.rows:
        values: list[Any] = [row.label, row.settings_text]
        for task in board.tasks:
            cell = row.cells.get(task)
            for metric in board.metrics[task]:
                estimate_ = cell.values.get(metric) if cell else None
                interval = estimate_.ci95 if estimate_ else None
                values += [_round(estimate_.value if estimate_ else None),
                           _round(interval[0] if interval else None),
                           _round(interval[1] if interval else None)]
            values += ([len(cell.run.problems), cell.run.n, cell.run.run_id, ";".join(cell.flags)]
                       if cell else ["", "", "", ""])
            if board.has_clean(task):
                clean = cell.run.clean if cell else None
                values.append(clean.num_problems if clean else "")
        writer.writerow(values)
    return buffer.getvalue()


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"

"""Read run folders and summary files (harness.schema, docs/results-format.md) into
`RunResult`s.

A path given by the user may be a run folder (holding ``metrics.json``/``run.json``), a
``metrics.json`` file, a summary file written by ``harness summary`` (one or more runs), or a
parent folder that is searched for run folders. Files are parsed by the models of
`harness.schema`; every malformed file is reported as a one-line `HarnessError` naming the
file and the first bad field.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.io import JSON_ERRORS, atomic_write_text, json_problem
from harness.metrics.passk import pass_at_k
from harness.schema import (
    SCHEMA_VERSION,
    SUMMARY_FORMAT,
    Metrics,
    ProblemMetrics,
    Record,
    RunInfo,
    SummaryFile,
    SummaryProblem,
    SummaryRun,
    first_error,
)

log = logging.getLogger(__name__)

# Generation settings that make two runs of the same model different leaderboard rows.
ROW_SETTINGS = ("temperature", "top_p")
_SEARCH_DEPTH = 4
_Model = TypeVar("_Model", bound=Record)


class IncompleteRunError(HarnessError):
    """A run folder whose run has not finished (no metrics.json)."""


@dataclass(frozen=True)
class ProblemResult:
    key: str
    task_id: str
    n: int
    correct: int | None  # None: the task does not execute code
    scores: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class CleanResult:
    """The run's score without the problems ``--exclude-problems`` named (metrics.json
    ``clean``)."""

    source: str
    num_problems: int
    num_excluded: int
    metrics: Mapping[str, float]
    ci95: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class RunResult:
    """One finished run of one model on one task, as the reports package needs it."""

    source: str  # where it was read from, for messages
    run_id: str
    task: str
    task_version: str
    model: str
    model_fingerprint: str
    n: int
    k: tuple[int, ...]
    num_problems: int
    complete: bool
    dataset_sha256: str
    config_hash: str
    metrics: Mapping[str, float]
    ci95: Mapping[str, tuple[float, float]]
    counts: Mapping[str, int]
    created: str
    settings: Mapping[str, Any]
    problems: tuple[ProblemResult, ...]
    clean: CleanResult | None = None

    @property
    def label(self) -> str:
        return f"{self.run_id} ({self.source})"

    @property
    def created_at(self) -> datetime:
        return parse_time(self.created)

    @property
    def executes(self) -> bool:
        return any(p.correct is not None for p in self.problems)

    def has_metric(self, metric: str) -> bool:
        if metric.startswith("pass@"):
            k = parse_pass_k(metric)
            return self.executes and k is not None and k <= self.n
        return metric in self.metrics or any(metric in p.scores for p in self.problems)

    def per_problem(self, metric: str) -> dict[str, float]:
        """Per-problem values of ``metric`` in percent, keyed by problem key.

        ``pass@k``: the unbiased per-problem estimate from (n, correct); other metrics:
        the problem's score averaged over its samples (``per_problem[*].scores``).
        """
        if metric.startswith("pass@"):
            k = parse_pass_k(metric)
            if k is None:
                raise HarnessError(f"bad metric name {metric!r}: expected pass@K, e.g. pass@1")
            if not self.executes:
                raise HarnessError(f"{self.label}: task {self.task} has no {metric} "
                                   "(it does not execute code); choose a score with --metric")
            if k > self.n:
                raise HarnessError(f"{self.label}: {metric} needs n >= {k}, the run has n = "
                                   f"{self.n}")
            values = {}
            for problem in self.problems:
                if problem.correct is None or problem.n < k:
                    raise HarnessError(f"{self.label}: problem {problem.key} has "
                                       f"{problem.n} samples, {metric} needs {k}")
                values[problem.key] = 100.0 * pass_at_k(problem.n, problem.correct, k)
            return values
        missing = [p.key for p in self.problems if metric not in p.scores]
        if missing:
            known = sorted({name for p in self.problems for name in p.scores})
            raise HarnessError(f"{self.label}: no per-problem {metric!r} for {len(missing)} "
                               f"problems (e.g. {missing[0]}); available: "
                               f"{', '.join(['pass@1', *known]) if self.executes else known}")
        return {p.key: float(p.scores[metric]) for p in self.problems}


def parse_pass_k(metric: str) -> int | None:
    digits = metric.removeprefix("pass@")
    return int(digits) if digits.isdigit() and int(digits) > 0 else None


def parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- finding runs -----------------------------------------------------------------------


@dataclass
class Discovery:
    runs: list[RunResult]
    incomplete: list[str]  # run folders without metrics.json, for a warning


def discover(paths: Sequence[Path]) -> Discovery:
    """All runs under ``paths`` (run folders, parents of run folders, summary files)."""
    found = Discovery([], [])
    for path in paths:
        if not path.exists():
            raise HarnessError(f"{path}: no such file or folder")
        if path.is_file():
            found.runs.extend(load_file(path))
            continue
        folders = list(_run_folders(path, _SEARCH_DEPTH))
        if not folders:
            log.warning("%s: no run folders found", path)
        for folder in folders:
            try:
                found.runs.append(load_run_folder(folder))
            except IncompleteRunError as exc:
                found.incomplete.append(str(exc))
    return found


def load_runs(path: Path) -> list[RunResult]:
    """Runs named by one command-line argument; an unfinished run is an error here."""
    if path.is_dir() and _is_run_folder(path):
        return [load_run_folder(path)]
    found = discover([path])
    if found.incomplete:
        raise IncompleteRunError(found.incomplete[0])
    if not found.runs:
        raise HarnessError(f"{path}: no finished runs found (expected a run folder with "
                           "metrics.json, a summary file, or a folder of runs)")
    return found.runs


def _is_run_folder(path: Path) -> bool:
    return (path / "metrics.json").is_file() or (path / "run.json").is_file()


def _run_folders(root: Path, depth: int) -> Iterable[Path]:
    if _is_run_folder(root):
        yield root
        return
    if depth == 0:
        return
    for child in sorted(root.iterdir()):
        if child.is_dir() and not child.name.startswith("."):
            yield from _run_folders(child, depth - 1)


def load_run_folder(folder: Path) -> RunResult:
    metrics_path = folder / "metrics.json"
    run_path = folder / "run.json"
    run_info = parse_file(RunInfo, _read_json(run_path), run_path) if run_path.is_file() \
        else None
    if not metrics_path.is_file():
        status = run_info.status if run_info else "unknown"
        raise IncompleteRunError(f"{folder}: run is incomplete (status {status!r}, no "
                                 "metrics.json); finish it by re-running the same command")
    metrics = parse_file(Metrics, _read_json(metrics_path), metrics_path)
    run = from_metrics(metrics, str(metrics_path), _settings_from_run_info(run_info))
    if run_info is not None and run_info.status != "complete":
        return replace(run, complete=False)
    return run


def load_file(path: Path) -> list[RunResult]:
    """A metrics.json or a summary file."""
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") == SUMMARY_FORMAT:
        summary = parse_file(SummaryFile, data, path)
        return [from_summary(run, f"{path}#{i}") for i, run in enumerate(summary.runs)]
    if isinstance(data, dict) and "per_problem" in data:
        return [from_metrics(parse_file(Metrics, data, path), str(path), {})]
    raise HarnessError(f"{path}: not a metrics.json or harness summary file "
                       f"(no 'per_problem' and no 'format': '{SUMMARY_FORMAT}')")


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: cannot read: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: "
                           f"{exc.msg}") from exc
    except JSON_ERRORS as exc:
        raise HarnessError(f"{path}: invalid JSON: {json_problem(exc)}") from exc


def _settings_from_run_info(run_info: RunInfo | None) -> dict[str, Any]:
    """Temperature and top_p as used (run.json ``sampling``), else as configured."""
    if run_info is None:
        return {}
    source = run_info.sampling.model_dump() if run_info.sampling else run_info.config
    settings = {name: source[name] for name in ROW_SETTINGS
                if isinstance(source.get(name), int | float)}
    if settings.get("top_p") == 1.0:
        del settings["top_p"]  # the default: no need to show it
    return settings


# --- validation -----------------------------------------------------------------------


def parse_file(model: type[_Model], data: Any, where: Path | str) -> _Model:
    """``data`` (read from ``where``) as ``model``: a file of a schema_version this harness
    does not read, or the first field that does not fit, is a one-line `HarnessError`."""
    if not isinstance(data, dict):
        raise HarnessError(f"{where}: expected a JSON object")
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise HarnessError(f"{where}: field 'schema_version' must be an integer, got "
                           f"{json.dumps(version)[:60]}")
    if not 1 <= version <= SCHEMA_VERSION:
        raise HarnessError(f"{where}: schema_version {version} is not supported (this harness "
                           f"reads 1 to {SCHEMA_VERSION}); upgrade harness")
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise HarnessError(f"{where}: {first_error(exc)}") from None
    if isinstance(parsed, Metrics | SummaryFile):
        _check_consistent(parsed, str(where))
    return parsed


def _check_consistent(parsed: Metrics | SummaryFile, where: str) -> None:
    """What the types cannot say: counts within range, keys unique, numbers finite."""
    runs: list[tuple[str, Metrics | SummaryRun]] = (
        [(where, parsed)] if isinstance(parsed, Metrics)
        else [(f"{where}#{i}", run) for i, run in enumerate(parsed.runs)])
    for label, run in runs:
        if run.n < 1:
            raise HarnessError(f"{label}: n = {run.n}: every run has at least one sample")
        bad_k = [k for k in run.k if k < 1]
        if bad_k:
            raise HarnessError(f"{label}: k holds {bad_k[0]}: pass@k needs k >= 1")
        numbers = {**run.metrics, **{f"{m} interval": v for m, pair in run.ci95.items()
                                     for v in pair}}
        if isinstance(run, Metrics) and run.clean is not None:
            numbers.update({f"clean {m}": v for m, v in run.clean.metrics.items()})
            numbers.update({f"clean {m} interval": v for m, pair in run.clean.ci95.items()
                            for v in pair})
        seen: set[str] = set()
        problems: Sequence[ProblemMetrics | SummaryProblem] = run.per_problem
        for i, problem in enumerate(problems):
            at = f"{label}: per_problem[{i}]"
            if problem.key in seen:
                raise HarnessError(f"{label}: per_problem has key {problem.key!r} twice")
            seen.add(problem.key)
            if problem.n < 1:
                raise HarnessError(f"{at}: n = {problem.n}: at least one sample")
            if problem.correct is not None and not 0 <= problem.correct <= problem.n:
                raise HarnessError(f"{at}: correct = {problem.correct} is not between 0 "
                                   f"and n = {problem.n}")
            numbers.update({f"per_problem[{i}] {m}": v for m, v in problem.scores.items()})
        for name, value in numbers.items():
            if not math.isfinite(value):
                raise HarnessError(f"{label}: {name} is {value}: scores must be finite")


def from_metrics(metrics: Metrics, where: str, settings: Mapping[str, Any]) -> RunResult:
    problems = tuple(ProblemResult(key=p.key, task_id=p.task_id, n=p.n, correct=p.correct,
                                   scores=p.scores) for p in metrics.per_problem)
    return RunResult(
        source=where, run_id=metrics.run_id, task=metrics.task,
        task_version=metrics.task_version, model=metrics.model,
        model_fingerprint=metrics.model_fingerprint, n=metrics.n, k=tuple(metrics.k),
        num_problems=metrics.num_problems, complete=metrics.complete,
        dataset_sha256=metrics.dataset_sha256, config_hash=metrics.config_hash,
        metrics=metrics.metrics, ci95=metrics.ci95, counts=metrics.counts,
        created=metrics.created, settings={"n": metrics.n, **settings}, problems=problems,
        clean=CleanResult(source=metrics.clean.source, num_problems=metrics.clean.num_problems,
                          num_excluded=metrics.clean.num_excluded,
                          metrics=metrics.clean.metrics, ci95=metrics.clean.ci95)
        if metrics.clean else None)


def from_summary(run: SummaryRun, where: str) -> RunResult:
    problems = tuple(ProblemResult(key=p.key, task_id=p.task_id or p.key, n=p.n,
                                   correct=p.correct, scores=p.scores)
                     for p in run.per_problem)
    return RunResult(
        source=where, run_id=run.run_id, task=run.task, task_version=run.task_version,
        model=run.model, model_fingerprint=run.model_fingerprint, n=run.n, k=tuple(run.k),
        num_problems=run.num_problems, complete=run.complete,
        dataset_sha256=run.dataset_sha256, config_hash=run.config_hash, metrics=run.metrics,
        ci95=run.ci95, counts=run.counts, created=run.created,
        settings={"n": run.n, **run.settings}, problems=problems)


# --- summaries --------------------------------------------------------------------------


def summary_run(run: RunResult) -> SummaryRun:
    """The compact, self-contained form of a run that a baseline file keeps."""
    return SummaryRun(
        run_id=run.run_id, task=run.task, task_version=run.task_version, model=run.model,
        model_fingerprint=run.model_fingerprint, num_problems=run.num_problems, n=run.n,
        k=list(run.k), complete=run.complete, dataset_sha256=run.dataset_sha256,
        config_hash=run.config_hash,
        settings={name: v for name, v in run.settings.items() if name != "n"},
        metrics=dict(run.metrics), ci95=dict(run.ci95), counts=dict(run.counts),
        created=run.created,
        per_problem=[SummaryProblem(key=p.key, task_id=None if p.task_id == p.key else p.task_id,
                                    n=p.n, correct=p.correct, scores=dict(p.scores))
                     for p in run.problems],
    )


def write_summary(runs: Sequence[RunResult], path: Path) -> None:
    """Write a summary file: indented JSON with one line per problem (small git diffs)."""
    atomic_write_text(path, summary_text(runs))


def summary_text(runs: Sequence[RunResult]) -> str:
    """The summary of ``runs`` (complete, one per task) as text."""
    incomplete = [run.label for run in runs if not run.complete]
    if incomplete:
        raise HarnessError(f"{incomplete[0]}: run is incomplete; a baseline must be a complete "
                           "run")
    tasks = [run.task for run in runs]
    duplicated = sorted({t for t in tasks if tasks.count(t) > 1})
    if duplicated:
        raise HarnessError(f"several runs of task {duplicated[0]}: a summary holds one run per "
                           "task")
    return format_summary(runs)


def format_summary(runs: Sequence[RunResult]) -> str:
    rendered: list[str] = []
    marker = uuid.uuid4().hex  # placeholders that no real string can collide with
    summary = SummaryFile(runs=[summary_run(run) for run in runs])
    document = summary.model_dump(mode="json")
    for entry, run in zip(document["runs"], summary.runs, strict=True):
        tokens = []
        for problem in run.per_problem:
            tokens.append(f"@{marker}:{len(rendered)}@")
            # Fields at their defaults (task_id equal to key, no scores) are left out.
            rendered.append(json.dumps(problem.model_dump(mode="json", exclude_defaults=True),
                                       ensure_ascii=False))
        entry["per_problem"] = tokens
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return re.sub(f'"@{marker}:(\\d+)@"', lambda m: rendered[int(m.group(1))], text) + "\n"

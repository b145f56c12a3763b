"""Read run folders (docs/results-format.md) and compact JSON summaries into `RunResult`s.

A path given by the user may be a run folder (holding ``metrics.json``/``run.json``), a
``metrics.json`` file, a summary file written by ``harness summary`` (one or more runs), or a
parent folder that is searched for run folders. Every malformed file is reported as a
one-line `HarnessError` naming the file and the problem.
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.io import atomic_write_text
from harness.reports import stats

log = logging.getLogger(__name__)

SUPPORTED_SCHEMA = 1
SUMMARY_FORMAT = "harness-summary"
# Generation settings that make two runs of the same model different leaderboard rows.
ROW_SETTINGS = ("temperature", "top_p")
_SEARCH_DEPTH = 4


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
                values[problem.key] = 100.0 * stats.pass_at_k(problem.n, problem.correct, k)
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
    run_info = _read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
    if not isinstance(run_info, dict):
        raise HarnessError(f"{folder / 'run.json'}: expected a JSON object")
    if not metrics_path.is_file():
        status = run_info.get("status", "unknown")
        raise IncompleteRunError(f"{folder}: run is incomplete (status {status!r}, no "
                                 "metrics.json); finish it by re-running the same command")
    data = _read_json(metrics_path)
    if not isinstance(data, dict):
        raise HarnessError(f"{metrics_path}: expected a JSON object")
    status = run_info.get("status")
    if status is not None and status != "complete":
        data = {**data, "complete": False}
    settings = _settings_from_run_info(run_info)
    return parse_run(data, str(metrics_path), settings=settings,
                     fallback_created=_mtime(metrics_path))


def load_file(path: Path) -> list[RunResult]:
    """A metrics.json or a summary file (single run or ``{"runs": [...]}``)."""
    data = _read_json(path)
    if isinstance(data, dict) and data.get("format") == SUMMARY_FORMAT:
        runs = data.get("runs")
        if not isinstance(runs, list) or not runs:
            raise HarnessError(f"{path}: summary has no 'runs' list")
        return [parse_run(run, f"{path}#{i}", fallback_created=_mtime(path))
                for i, run in enumerate(runs)]
    if isinstance(data, dict) and "per_problem" in data:
        return [parse_run(data, str(path), fallback_created=_mtime(path))]
    raise HarnessError(f"{path}: not a metrics.json or harness summary file "
                       "(no 'per_problem' and no 'format': 'harness-summary')")


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


def _mtime(path: Path) -> str:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).isoformat()


def _settings_from_run_info(run_info: Mapping[str, Any]) -> dict[str, Any]:
    """Temperature and top_p as used (run.json ``sampling``), else as configured."""
    source = run_info.get("sampling")
    if not isinstance(source, dict):
        source = run_info.get("config")
    if not isinstance(source, dict):
        return {}
    settings = {name: source[name] for name in ROW_SETTINGS
                if isinstance(source.get(name), int | float)}
    if settings.get("top_p") == 1.0:
        del settings["top_p"]  # the default: no need to show it
    return settings


# --- validation -----------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object, raising one-line errors that name the file."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise HarnessError(f"{where}: expected a JSON object")
        self.data = data
        self.where = where

    def _fail(self, key: str, expected: str) -> HarnessError:
        value = self.data.get(key, "<missing>")
        return HarnessError(f"{self.where}: field {key!r} must be {expected}, got "
                            f"{json.dumps(value)[:60] if value != '<missing>' else value}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # task_version written as a number
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def integer(self, key: str, minimum: int = 0, default: int | None = None) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._fail(key, f"an integer >= {minimum}")
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def numbers(self, key: str) -> dict[str, float]:
        value = self.data.get(key, {})
        if not isinstance(value, dict) or not all(_is_number(v) for v in value.values()):
            raise self._fail(key, "an object of numbers")
        return {str(name): float(v) for name, v in value.items()}

    def intervals(self, key: str) -> dict[str, tuple[float, float]]:
        value = self.data.get(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "an object of [low, high] pairs")
        result = {}
        for name, pair in value.items():
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(_is_number(x) for x in pair)):
                raise self._fail(key, "an object of [low, high] pairs")
            result[str(name)] = (float(pair[0]), float(pair[1]))
        return result


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value))


def parse_run(
    data: Any,
    where: str,
    settings: Mapping[str, Any] | None = None,
    fallback_created: str = "",
) -> RunResult:
    """Validate one metrics.json-shaped object (also the entries of a summary)."""
    reader = _Reader(data, where)
    schema = reader.integer("schema_version", minimum=1)
    if schema != SUPPORTED_SCHEMA:
        raise HarnessError(f"{where}: schema_version {schema} is not supported (this harness "
                           f"reads {SUPPORTED_SCHEMA}); upgrade harness")
    n = reader.integer("n", minimum=1)
    raw_problems = data.get("per_problem")
    if not isinstance(raw_problems, list):
        raise reader._fail("per_problem", "a list")
    problems = tuple(_parse_problem(item, f"{where}: per_problem[{i}]")
                     for i, item in enumerate(raw_problems))
    seen: set[str] = set()
    for problem in problems:
        if problem.key in seen:
            raise HarnessError(f"{where}: per_problem has key {problem.key!r} twice")
        seen.add(problem.key)
    k_values = data.get("k", [])
    if not isinstance(k_values, list) or not all(
            isinstance(k, int) and not isinstance(k, bool) and k > 0 for k in k_values):
        raise reader._fail("k", "a list of positive integers")
    raw_settings = data.get("settings", settings or {})
    if not isinstance(raw_settings, dict):
        raise reader._fail("settings", "an object")
    task = reader.text("task")
    return RunResult(
        source=where,
        run_id=reader.text("run_id", default=""),
        task=task,
        task_version=reader.text("task_version"),
        model=reader.text("model"),
        model_fingerprint=reader.text("model_fingerprint", default=""),
        n=n,
        k=tuple(k_values),
        num_problems=reader.integer("num_problems", default=len(problems)),
        complete=reader.flag("complete"),
        dataset_sha256=reader.text("dataset_sha256"),
        config_hash=reader.text("config_hash", default=""),
        metrics=reader.numbers("metrics"),
        ci95=reader.intervals("ci95"),
        counts={name: int(v) for name, v in reader.numbers("counts").items()},
        created=reader.text("created", default=fallback_created),
        settings={"n": n, **raw_settings},
        problems=problems,
    )


def _parse_problem(item: Any, where: str) -> ProblemResult:
    reader = _Reader(item, where)
    key = reader.text("key")
    n = reader.integer("n", minimum=1)
    correct_value = item.get("correct")
    correct = None if correct_value is None else reader.integer("correct")
    if correct is not None and correct > n:
        raise HarnessError(f"{where}: correct = {correct} is more than n = {n}")
    return ProblemResult(key=key, task_id=reader.text("task_id", default=key), n=n,
                         correct=correct, scores=reader.numbers("scores"))


# --- summaries --------------------------------------------------------------------------


def summary_entry(run: RunResult) -> dict[str, Any]:
    """The compact, self-contained form of a run that a baseline file keeps."""
    return {
        "schema_version": SUPPORTED_SCHEMA,
        "run_id": run.run_id,
        "task": run.task,
        "task_version": run.task_version,
        "model": run.model,
        "model_fingerprint": run.model_fingerprint,
        "num_problems": run.num_problems,
        "n": run.n,
        "k": list(run.k),
        "complete": run.complete,
        "dataset_sha256": run.dataset_sha256,
        "config_hash": run.config_hash,
        "settings": {name: v for name, v in run.settings.items() if name != "n"},
        "metrics": dict(run.metrics),
        "ci95": {name: list(pair) for name, pair in run.ci95.items()},
        "counts": dict(run.counts),
        "created": run.created,
        "per_problem": [_problem_entry(p) for p in run.problems],
    }


def _problem_entry(problem: ProblemResult) -> dict[str, Any]:
    entry: dict[str, Any] = {"key": problem.key}
    if problem.task_id != problem.key:
        entry["task_id"] = problem.task_id
    entry["n"] = problem.n
    if problem.correct is not None:
        entry["correct"] = problem.correct
    if problem.scores:
        entry["scores"] = dict(problem.scores)
    return entry


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
    entries = []
    for run in runs:
        entry = summary_entry(run)
        tokens = []
        for problem in entry["per_problem"]:
            tokens.append(f"@{marker}:{len(rendered)}@")
            rendered.append(json.dumps(problem, ensure_ascii=False))
        entry["per_problem"] = tokens
        entries.append(entry)
    document = {"format": SUMMARY_FORMAT, "schema_version": SUPPORTED_SCHEMA, "runs": entries}
    text = json.dumps(document, indent=2, ensure_ascii=False)
    return re.sub(f'"@{marker}:(\\d+)@"', lambda m: rendered[int(m.group(1))], text) + "\n"

"""``--exclude-problems``: the problems a clean (decontaminated) score leaves out.

The value is a contamination report written by ``harness contamination`` (its ``flagged``
problems), a file of problem ids (one per line or comma-separated; ``#`` starts a
comment), or a comma-separated list of ids. Ids are matched as ``--problems`` matches them
(the task's own spellings), and also by the benchmark problem a task's problems come from
(``metadata["source_id"]``): a report on ``humaneval`` excludes every
``humaneval-infilling`` task cut from a flagged HumanEval problem.

The runner reads them right after loading the task (bad input fails before any
generation); :func:`harness.scoring.clean_score` scores the remaining problems exactly as a
run over only those problems would be scored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.io import JSON_ERRORS
from harness.tasks import Problem, Task


@dataclass(frozen=True)
class Exclusions:
    """The problem keys to leave out of the clean score, and where the ids came from."""

    keys: frozenset[str]
    source: str


def exclusion_ids(value: str) -> tuple[list[str], str]:
    """The ids ``value`` names, and where they come from (for messages and metrics)."""
    text = value.strip()
    if not text:
        raise HarnessError("--exclude-problems: empty value")
    path = Path(text).expanduser()
    if path.is_file():
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HarnessError(f"--exclude-problems: cannot read {path}: {exc}") from None
        try:
            data = json.loads(raw)
        except JSON_ERRORS:
            data = None
        if isinstance(data, dict):
            if data.get("format") != "harness-contamination":
                raise HarnessError(f"--exclude-problems: {path} is JSON but not a "
                                   "contamination report (harness contamination --output)")
            from harness.contamination_report import read_report

            return list(read_report(path).flagged), f"report {path}"
        if isinstance(data, list) and all(isinstance(i, str | int) for i in data):
            return [str(i) for i in data], f"list {path}"
        lines = [line.split("#", 1)[0] for line in raw.splitlines()]
        return [i for line in lines for i in re.split(r"[,\s]+", line) if i], f"list {path}"
    if text.endswith((".json", ".txt", ".jsonl")) or ("/" in text and not text[0].isalpha()):
        raise HarnessError(f"--exclude-problems: file {path} not found")
    ids = [i.strip() for i in text.split(",") if i.strip()]
    if not ids:
        raise HarnessError(f"--exclude-problems: {value!r} names no problems")
    return ids, "list"


def load_exclusions(value: str, task: Task, problems: Sequence[Problem]) -> set[str]:
    """The keys of ``problems`` that ``value`` excludes; an id matching none of the task's
    problems is an error (a report of another benchmark, a typo)."""
    return set(read_exclusions(value, task, problems).keys)


def read_exclusions(value: str, task: Task, problems: Sequence[Problem]) -> Exclusions:
    """``load_exclusions`` with the source of the ids, for metrics.json."""
    ids, source = exclusion_ids(value)
    by_name: dict[str, set[str]] = {}
    for problem in problems:
        names = {problem.key, problem.task_id}
        if problem.metadata.get("source_id"):
            names.add(str(problem.metadata["source_id"]))
        for name in names:
            by_name.setdefault(name, set()).add(problem.key)
    keys: set[str] = set()
    unknown = []
    for raw in ids:
        found = by_name.get(task.normalize_task_id(raw)) or by_name.get(raw.strip())
        if found is None:
            unknown.append(raw)
        else:
            keys |= found
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5
                                         else "")
        raise HarnessError(f"--exclude-problems ({source}): {shown} "
                           f"{'is not a problem' if len(unknown) == 1 else 'are not problems'}"
                           f" of {task.name}")
    return Exclusions(frozenset(keys), source)


__all__ = ["Exclusions", "exclusion_ids", "load_exclusions", "read_exclusions"]

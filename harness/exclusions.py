"""``--exclude-problems``: the problems a clean (decontaminated) score leaves out.

The value is a contamination report written by ``harness contamination`` (its ``flagged``
problems), a file of problem ids (one per line or comma-separated; ``#`` starts a
comment), or a comma-separated list of ids. Ids are matched as ``--problems`` matches them
(the task's own spellings), and also by the benchmark problem a task's problems come from
(``metadata["source_id"]``): a report on ``humaneval`` excludes every
``humaneval-infilling`` task cut from a flagged HumanEval problem.

:func:`clean_score` scores a run over the remaining problems exactly as a run over only
those problems would be scored.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.tasks import Problem, Task

if TYPE_CHECKING:
    from harness.execution import ExecutionInfo
    from harness.plan import RunPlan
    from harness.schema import ExecutionRecord, SampleRecord


def exclusion_ids(value: str) -> tuple[list[str], str]:
    """The ids ``value`` names, and where they come from (for messages and metrics)."""
    text = value.strip()
    if not text:
        raise HarnessError("--exclude-problems: empty value")
    path = Path(text).expanduser()
    if path.is_file():
        raw = path.read_text(encoding="utf-8")
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
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
    return [i.strip() for i in text.split(",") if i.strip()], "list"


def load_exclusions(value: str, task: Task, problems: Sequence[Problem]) -> set[str]:
    """The keys of ``problems`` that ``value`` excludes; an id matching none of the task's
    problems is an error (a report of another benchmark, a typo)."""
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
    return keys


def clean_score(plan: RunPlan, samples: Mapping[tuple[str, int], SampleRecord],
                executions: Mapping[tuple[str, int], ExecutionRecord],
                info: ExecutionInfo | None, excluded: set[str], source: str
                ) -> dict[str, Any] | None:
    """The clean-subset fields for metrics.json: the run scored without the ``excluded``
    problems (the scorer itself, on a plan of the other problems: the numbers equal a run
    over those problems), or None when no problem is left."""
    from harness.scoring import score

    left = [p for p in plan.problems if p.key not in excluded]
    if not left:
        return None
    clean = score(dataclasses.replace(plan, problems=left), samples, executions, info)
    return {"source": source, "num_problems": clean.num_problems,
            "excluded": sorted(k for k in excluded if k in {p.key for p in plan.problems}),
            "metrics": clean.metrics, "ci95": clean.ci95}


__all__ = ["clean_score", "exclusion_ids", "load_exclusions"]

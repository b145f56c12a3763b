"""``harness sanitize``: a samples file of chat answers -> a samples file of programs.

Each output line keeps the input line's other fields, holds the extracted program as
``solution`` (the whole program, as evalplus's ``sanitize`` writes it) and the answer as
``raw``; an answer with no usable code gets an empty ``solution`` and ``sanitize_detail``
saying why, which ``harness evaluate`` counts as "no code found".
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import HarnessError
from harness.io import atomic_write_text, json_line
from harness.samples_file import read_samples_file
from harness.tasks import TaskOptions, create_task


def sanitize_file(task_name: str, samples: Path, output: Path, *, data_dir: str | None = None,
                  task_args: dict[str, str] | None = None) -> tuple[int, int]:
    """Write ``output``; returns (lines written, answers without code)."""
    task = create_task(task_name, TaskOptions(
        data_dir=Path(data_dir).expanduser() if data_dir else None, args=dict(task_args or {})))
    problems = {p.key: p for p in task.load()}
    in_file = read_samples_file(samples, task, set(problems))
    if output.resolve() == samples.resolve():
        raise HarnessError("--output must differ from --samples (the raw answers are kept)")
    originals = _original_lines(samples)
    lines, no_code = [], 0
    for key, items in in_file.items():
        problem = problems[key]
        for item in items:
            extraction = task.extract(problem, item.text)
            record = {k: v for k, v in originals[item.line].items()
                      if k not in ("completion", "solution")}
            record.update(task_id=record.get("task_id", problem.task_id),
                          solution=extraction.code, raw=item.text)
            if not extraction.found:
                no_code += 1
                record["sanitize_detail"] = extraction.detail or "no code found in the answer"
            lines.append((item.line, json_line(record)))
    lines.sort()
    atomic_write_text(output, "".join(text + "\n" for _, text in lines))
    return len(lines), no_code


def _original_lines(path: Path) -> dict[int, dict[str, object]]:
    """The file's JSON objects by line number (read_samples_file has validated them)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    records: dict[int, dict[str, object]] = {}
    with opener(path, "rt", encoding="utf-8", errors="surrogateescape") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                records[number] = json.loads(line)
    return records

"""Samples files from the forgery corpus (tests/forgery/<task>/*.py).

Every corpus file is one whole program (a ``solution`` line of a samples file) written to
pass the task's tests without solving its problem. Its header names what it targets:

    # task_id: HumanEval/32      the problem whose samples it is given as
    # class: frames              the attack class (docs/sandbox.md, "Attack classes, measured")
    # <one line saying what it tries>

Files in ``concurrent/`` also say ``# task: humaneval``; they are for the concurrency test.

    python tests/forgery/build.py OUT_DIR            one OUT_DIR/<task>.jsonl per task
    python tests/forgery/build.py OUT_DIR --task mbpp --classes frames,gc

Next to each samples file, ``<task>.index.json`` maps ``"<key>#<sample>"`` to the attack's
file name, so that a run's executions.jsonl can be read back per attack.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
TASKS = ("humaneval", "humaneval-plus", "mbpp", "mbpp-plus")
# Classes whose programs damage the worker or leave files for later jobs: they run in their
# own test (with canaries and correct programs after them), never mixed with the others,
# where a broken worker would make forgeries fail for the wrong reason.
SABOTAGE_CLASSES = frozenset({"sabotage", "plant"})
HEADER = re.compile(r"^#\s*(task_id|class|task):\s*(.+?)\s*$")


@dataclass(frozen=True)
class Attack:
    task: str
    task_id: str
    cls: str
    name: str  # "<task dir>/<file stem>"
    summary: str
    source: str

    @property
    def key(self) -> str:
        """The harness's problem key (MBPP's keys are the bare numbers)."""
        if self.task == "mbpp":
            return self.task_id.rsplit("/", 1)[-1]
        return self.task_id


def read_attack(path: Path) -> Attack:
    source = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    summary: list[str] = []
    for line in source.splitlines()[:12]:
        match = HEADER.match(line)
        if match:
            fields[match.group(1)] = match.group(2)
        elif line.startswith("# ") and "ruff: noqa" not in line and "class" in fields:
            summary.append(line[2:].strip())
        elif not line.startswith("#"):
            break
    if "task_id" not in fields or "class" not in fields:
        raise ValueError(f"{path}: header needs '# task_id:' and '# class:' lines")
    task = fields.get("task", path.parent.name)
    if task not in TASKS:
        raise ValueError(f"{path}: unknown task {task!r}")
    return Attack(task=task, task_id=fields["task_id"], cls=fields["class"],
                  name=f"{path.parent.name}/{path.stem}", summary=" ".join(summary),
                  source=source)


def corpus(folder: str | None = None) -> list[Attack]:
    """Every attack (of one folder: a task name or "concurrent"), sorted by file name."""
    folders = [folder] if folder else [*TASKS, "concurrent"]
    return [read_attack(path) for name in folders for path in sorted((CORPUS / name).glob("*.py"))]


def select(attacks: Iterable[Attack], classes: Iterable[str] | None = None,
           exclude: Iterable[str] = ()) -> list[Attack]:
    wanted = set(classes) if classes is not None else None
    skip = set(exclude)
    return [a for a in attacks
            if (wanted is None or a.cls in wanted) and a.cls not in skip]


def samples_lines(entries: Iterable[tuple[str, str, str]]) -> tuple[str, dict[str, str]]:
    """JSONL text for (task_id, key, solution) entries (each a ``solution`` line), and the
    index "<key>#<sample>" -> position, where the sample number is the line's order among the
    lines of its problem (as `harness evaluate` numbers them)."""
    counts: dict[str, int] = defaultdict(int)
    lines: list[str] = []
    index: dict[str, str] = {}
    for position, (task_id, key, solution) in enumerate(entries):
        index[f"{key}#{counts[key]}"] = str(position)
        counts[key] += 1
        lines.append(json.dumps({"task_id": task_id, "solution": solution}) + "\n")
    return "".join(lines), index


def write_samples(attacks: list[Attack], path: Path) -> dict[str, Attack]:
    """Write ``attacks`` as a samples file; returns "<key>#<sample>" -> attack."""
    text, index = samples_lines((a.task_id, a.key, a.source) for a in attacks)
    path.write_text(text, encoding="utf-8")
    return {where: attacks[int(position)] for where, position in index.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--task", choices=TASKS, action="append")
    parser.add_argument("--classes", help="comma-separated attack classes (default: all "
                        "but sabotage and plant)")
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    classes = args.classes.split(",") if args.classes else None
    for task in args.task or TASKS:
        attacks = select(corpus(task), classes,
                         exclude=() if classes else SABOTAGE_CLASSES)
        if not attacks:
            continue
        index = write_samples(attacks, args.out_dir / f"{task}.jsonl")
        (args.out_dir / f"{task}.index.json").write_text(
            json.dumps({k: a.name for k, a in index.items()}, indent=1) + "\n")
        print(f"{args.out_dir / f'{task}.jsonl'}: {len(attacks)} samples")


if __name__ == "__main__":
    main()

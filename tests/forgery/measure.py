"""Measure the forgery corpus on sandbox backends: which attacks get a ``passed`` verdict.

    python tests/forgery/measure.py --sandbox bwrap --sandbox local --out results.json
    python tests/forgery/measure.py --sandbox bwrap --markdown      # table for the docs

Runs ``python -m harness evaluate`` (the interpreter running this script) for each task, in
plain and ``--strict`` mode, over every attack except the sabotage and plant classes (those
need the sequencing of tests/test_verdict_forgery.py). A run that crashes is re-run one
attack at a time, so a crash is blamed on the attack that caused it ("crash").

Only run it where hostile programs cannot hurt: ``local`` runs them on this machine (as a
dropped uid when run as root).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from forgery.build import SABOTAGE_CLASSES, TASKS, Attack, corpus, samples_lines, select

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
DATA_DIRS = {"humaneval": None, "humaneval-plus": "humanevalplus", "mbpp": "mbpp",
             "mbpp-plus": "mbppplus"}


def run(task: str, attacks: list[Attack], sandbox: str, strict: bool, work: Path
        ) -> tuple[int, dict[str, str]]:
    """(exit code, attack name -> status) of one `harness evaluate` run."""
    work.mkdir(parents=True, exist_ok=True)
    text, index = samples_lines((a.task_id, a.key, a.source) for a in attacks)
    samples = work / "samples.jsonl"
    samples.write_text(text, encoding="utf-8")
    args = [sys.executable, "-m", "harness", "-q", "evaluate", "--task", task, "--samples",
            str(samples), "--output-dir", str(work / "run"), "--sandbox", sandbox,
            "--timeout", "5"]
    folder = DATA_DIRS[task]
    if folder is not None:
        args += ["--data-dir", str(SHARED_DATA / folder)]
    if strict:
        args.append("--strict")
    env = {**os.environ, "HARNESS_CACHE_DIR": str(work / "cache")}
    done = subprocess.run(args, capture_output=True, text=True, errors="replace", env=env,
                          timeout=1800, check=False, cwd=work)
    statuses: dict[str, str] = {}
    executions = work / "run" / "executions.jsonl"
    if executions.is_file():
        for line in executions.read_text(errors="replace").splitlines():
            record = json.loads(line)
            position = index.get(f"{record['key']}#{record['sample']}")
            if position is not None:
                statuses[attacks[int(position)].name] = record["status"]
    return done.returncode, statuses


def measure(task: str, sandbox: str, strict: bool, work: Path) -> dict[str, str]:
    attacks = select(corpus(task), exclude=SABOTAGE_CLASSES)
    code, statuses = run(task, attacks, sandbox, strict, work / "all")
    if code == 0 and len(statuses) == len(attacks):
        return statuses
    # The run crashed: which attack did it (its own verdict may have been written first)?
    for number, attack in enumerate(attacks):
        code, alone = run(task, [attack], sandbox, strict, work / f"alone-{number}")
        statuses[attack.name] = alone.get(attack.name, "crash") if code == 0 else "crash"
    return statuses


def markdown(results: dict[str, Any], attacks: list[Attack]) -> str:
    """Per class: how many attacks passed (or crashed the run), per backend and mode."""
    columns = [(sandbox, mode) for sandbox in results for mode in ("plain", "strict")]
    by_class: dict[str, list[Attack]] = defaultdict(list)
    for attack in attacks:
        by_class[attack.cls].append(attack)
    head = "| class | attacks | " + " | ".join(f"{s} {m}" for s, m in columns) + " |"
    lines = [head, "|" + "---|" * (2 + len(columns))]
    for cls, members in sorted(by_class.items()):
        cells = []
        for sandbox, mode in columns:
            seen = results[sandbox][mode]
            passes = sum(seen.get(a.name) == "passed" for a in members)
            crashes = sum(seen.get(a.name) == "crash" for a in members)
            parts = [f"{passes} pass"] * bool(passes) + [f"{crashes} crash the run"] * bool(crashes)
            cells.append(", ".join(parts) or "all fail")
        lines.append(f"| {cls} | {len(members)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", action="append", required=True)
    parser.add_argument("--task", choices=TASKS, action="append")
    parser.add_argument("--out", type=Path, help="write per-attack statuses as JSON")
    parser.add_argument("--markdown", action="store_true", help="print a table per class")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="forgery-measure-") as tmp:
        for sandbox in args.sandbox:
            results[sandbox] = {"plain": {}, "strict": {}}
            for task in args.task or TASKS:
                for mode in ("plain", "strict"):
                    work = Path(tmp) / sandbox / task / mode
                    found = measure(task, sandbox, mode == "strict", work)
                    results[sandbox][mode].update(found)
                    passed = sorted(n for n, s in found.items() if s in ("passed", "crash"))
                    print(f"{sandbox} {task} {mode}: {len(passed)} of {len(found)} not "
                          f"failed: {', '.join(passed)}", flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if args.markdown:
        attacks = [a for t in args.task or TASKS
                   for a in select(corpus(t), exclude=SABOTAGE_CLASSES)]
        print(markdown(results, attacks))


if __name__ == "__main__":
    main()

"""Contamination check throughput and memory: `harness contamination` over generated
corpora of growing size.

The corpus is JSON Lines of Python functions from the standard library (each document a
function; cycled, with a counter in each so that no two documents are the same text), with
10 HumanEval solutions hidden in it. Each size is scanned by a fresh
`harness contamination --task humaneval` process; reported: documents, MB, seconds, MB/s,
the peak resident memory of the scanning process (and of its worker processes), and
whether exactly the hidden problems were flagged. Memory must not grow with the corpus.

    python benchmarks/contamination_throughput.py [--sizes 25,200] [--workers 1,2]

Writes benchmarks/results/contamination_throughput.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import subprocess
import sys
import sysconfig
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "contamination_throughput.json"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HIDDEN = 10

# Runs the CLI in a child and reports its peak memory (and its workers'), in KiB.
CHILD = """
import json, resource, sys
from harness.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code,
                  "rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "workers_rss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def stdlib_functions() -> list[str]:
    found = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        source = path.read_text(encoding="utf-8", errors="replace")
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                text = ast.get_source_segment(source, node)
                if text and 3 <= text.count("\n") <= 80:
                    found.append(text)
    return found


def hidden_solutions() -> dict[str, str]:
    from harness.tasks import TaskOptions, create_task

    task = create_task("humaneval", TaskOptions(data_dir=DATA))
    problems = task.load()[::16][:HIDDEN]
    return {p.key: task.solution(p, p.reference) for p in problems}


def write_corpus(path: Path, megabytes: int, functions: list[str], hidden: dict[str, str]
                 ) -> tuple[int, int]:
    """Stream a corpus of about ``megabytes`` to ``path``; (documents, bytes)."""
    target = megabytes * 1_000_000
    spread = max(1, target // 1_000_000 // (len(hidden) + 1))
    secrets = list(hidden.values())
    written = documents = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            text = f"# copy {documents}\n{functions[documents % len(functions)]}"
            if secrets and documents and documents % (spread * 1000) == 0:
                text = secrets.pop()
            line = json.dumps({"text": text}) + "\n"
            handle.write(line)
            written += len(line.encode())
            documents += 1
        for text in secrets:  # a small corpus holds the rest at its end
            handle.write(json.dumps({"text": text}) + "\n")
            documents += 1
    return documents, written


def scan(corpus: Path, workers: int, report: Path) -> dict[str, Any]:
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "-q", "contamination", "--task", "humaneval",
         "--data-dir", str(DATA), "--corpus", str(corpus), "--workers", str(workers),
         "--output", str(report)],
        capture_output=True, text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.monotonic() - began
    usage = json.loads(done.stdout.strip().splitlines()[-1])
    return {"wall_s": round(seconds, 2), "rss_mb": round(usage["rss_kib"] / 1024, 1),
            "workers_rss_mb": round(usage["workers_rss_kib"] / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25,200", help="corpus sizes in MB")
    parser.add_argument("--workers", default="1,2", help="worker counts to run each size with")
    args = parser.parse_args()
    functions = stdlib_functions()
    hidden = hidden_solutions()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for size in [int(s) for s in args.sizes.split(",")]:
            corpus = Path(folder) / f"corpus-{size}mb.jsonl"
            documents, written = write_corpus(corpus, size, functions, hidden)
            for workers in [int(w) for w in args.workers.split(",")]:
                report_path = Path(folder) / "report.json"
                measured = scan(corpus, workers, report_path)
                report = json.loads(report_path.read_text())
                row = {"corpus_mb": round(written / 1e6, 1), "documents": documents,
                       "workers": workers, **measured,
                       "scan_s": report["scan"]["seconds"],
                       "mb_per_s": report["scan"]["mb_per_s"],
                       "flagged_hidden": sorted(report["flagged"]) == sorted(hidden),
                       "flagged": len(report["flagged"])}
                rows.append(row)
                print(json.dumps(row))
            corpus.unlink()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "contamination_throughput", "task": "humaneval", "ngram": 13,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpus": os.cpu_count()},
        "note": "one JSON Lines file of stdlib functions with 10 HumanEval solutions hidden; "
                "rss_mb: peak resident memory of the scanning process, workers_rss_mb: of "
                "its largest worker",
        "runs": rows}, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

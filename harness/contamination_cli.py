"""``harness contamination``: which problems of a task a training corpus holds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from harness.config import parse_task_args
from harness.contamination import DEFAULT_NGRAM
from harness.contamination_report import DEFAULT_THRESHOLD


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    parser = subparsers.add_parser(
        "contamination",
        help="find a task's problems in a training corpus (n-gram overlap)",
        description="Scan a corpus (a folder of source files, JSON Lines or Parquet) for each "
        "problem's reference solution and prompt, normalised for whitespace, comments and "
        "renamed identifiers, and write a report of the overlaps. Memory stays bounded "
        "whatever the corpus size. `--exclude-problems REPORT` on run/evaluate scores the "
        "problems the report does not flag.")
    required = parser.add_argument_group("required arguments")
    required.add_argument("--task", required=True, help="task name (see `harness tasks`)")
    required.add_argument("--corpus", required=True, action="append", metavar="PATH",
                          help="a folder or file (.py and other text files, .jsonl[.gz], "
                          ".parquet); repeat for several")
    required.add_argument("--output", "-o", required=True, metavar="REPORT",
                          help="the JSON report to write")
    parser.add_argument("--ngram", type=int, default=DEFAULT_NGRAM,
                        help=f"n-gram size in tokens (default {DEFAULT_NGRAM}, as GPT-3)")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help="flag a problem when this share of its solution or prompt is in "
                        f"one corpus document (default {DEFAULT_THRESHOLD})")
    parser.add_argument("--text-field", default="text",
                        help="JSON Lines field / Parquet column holding the text (default "
                        "text; content and code are tried when it is missing)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes matching documents (default 1)")
    parser.add_argument("--data-dir", help="folder holding the dataset files")
    parser.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                        help="task option (see `harness tasks NAME`)")
    parser.set_defaults(handler=handle_contamination)


def handle_contamination(args: argparse.Namespace) -> int:
    from harness.contamination_report import check, write_report
    from harness.errors import HarnessError
    from harness.tasks import TaskOptions, create_task

    if args.workers < 1:
        raise HarnessError(f"--workers must be at least 1, not {args.workers}")
    corpora = [Path(c).expanduser() for c in args.corpus]
    for corpus in corpora:
        if not corpus.exists():
            raise HarnessError(f"--corpus {corpus} does not exist")
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else None
    task = create_task(args.task, TaskOptions(data_dir=data_dir,
                                              args=parse_task_args(args.task_arg)))
    problems = task.load()
    report = check(task, problems, corpora, ngram=args.ngram, threshold=args.threshold,
                   text_field=args.text_field, workers=args.workers,
                   show_progress=not args.quiet)
    output = Path(args.output).expanduser()
    write_report(report, output)
    scan = report.scan
    print(f"{report.task}: {report.num_flagged} of {report.num_problems} problems flagged "
          f"({report.criterion})")
    print(f"corpus: {scan.documents} documents, {scan.bytes / 1e6:.1f} MB in {scan.seconds:.1f} s "
          f"({scan.mb_per_s:.2f} MB/s); {scan.skipped} skipped")
    if report.flagged:
        shown = ", ".join(report.flagged[:10])
        more = f" and {len(report.flagged) - 10} more" if len(report.flagged) > 10 else ""
        print(f"flagged: {shown}{more}")
    print(f"report: {output}")
    return 0

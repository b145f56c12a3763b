"""Subcommands of the reports package: leaderboard, compare, gate, summary."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.metrics.bootstrap import REPORT_RESAMPLES, REPORT_SEED

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this package's subcommands."""
    board = subparsers.add_parser(
        "leaderboard",
        help="table or HTML page of finished runs, one row per model",
        description="Collect finished runs (run folders, folders of runs, summary files) into "
        "a table: one row per model and generation setting, one column group per task, with "
        "95% intervals and sample counts. By default only the newest run per (model, task, "
        "config) is shown.",
    )
    board.add_argument("paths", nargs="*", type=Path, metavar="RESULTS_DIR",
                       help="run folders, folders containing runs, or summary files "
                       "(default: results/)")
    board.add_argument("--format", choices=["md", "csv", "json", "html"], default="md")
    board.add_argument("--output", "-o", type=Path, help="write here instead of stdout")
    board.add_argument("--all-runs", action="store_true",
                       help="show every run, not only the newest per (model, task, config)")
    board.add_argument("--metrics", help="only these metric columns, e.g. pass@1,codebleu")
    board.add_argument("--title", default="harness leaderboard", help="HTML page title")
    board.set_defaults(handler=handle_leaderboard)

    comp = subparsers.add_parser(
        "compare",
        help="paired comparison of two runs (B minus A) with bootstrap interval and McNemar",
        description="Compare run B with run A problem by problem: the difference in "
        "percentage points with a paired bootstrap 95% interval over problems, the exact "
        "McNemar test when n = 1, and the problems that flipped. RUN_A/RUN_B may be run "
        "folders, summary files, or folders of runs (matched by task).",
    )
    comp.add_argument("run_a", type=Path, metavar="RUN_A")
    comp.add_argument("run_b", type=Path, metavar="RUN_B")
    comp.add_argument("--format", choices=["text", "json"], default="text")
    _add_comparison_options(comp)
    comp.set_defaults(handler=handle_compare)

    gate = subparsers.add_parser(
        "gate",
        help="CI regression gate: exit 0 pass, 1 regression, 2 bad input",
        description="Fail (exit 1) when the candidate is significantly worse than the "
        "baseline by more than --max-drop percentage points: the one-sided (1 - alpha) upper "
        "confidence bound of candidate minus baseline is below -max-drop and, with one "
        "sample per problem, the exact one-sided McNemar test rejects at alpha. --strict "
        "instead requires the lower bound to be above -max-drop (non-inferiority). The "
        "baseline may be a summary file kept in git (see --write-baseline).",
    )
    required = gate.add_argument_group(
        "required arguments", "all three, except with --write-baseline (which needs --output)")
    required.add_argument("--baseline", type=Path, metavar="RUN_OR_FILE",
                          help="run folder or summary file to compare against")
    required.add_argument("--candidate", type=Path, metavar="RUN", help="the new run")
    required.add_argument("--max-drop", type=float, metavar="POINTS",
                          help="allowed drop in percentage points (e.g. 1.0)")
    gate.add_argument("--alpha", type=float, default=0.05, help="significance level (0.05)")
    gate.add_argument("--strict", action="store_true",
                      help="non-inferiority: pass only if the drop is shown to be at most "
                      "--max-drop")
    gate.add_argument("--format", choices=["text", "json"], default="text")
    gate.add_argument("--write-baseline", type=Path, metavar="RUN",
                      help="instead of gating, write RUN's summary to --output")
    gate.add_argument("--output", "-o", type=Path, help="file for --write-baseline")
    _add_comparison_options(gate)
    gate.set_defaults(handler=handle_gate)

    summary = subparsers.add_parser(
        "summary",
        help="write a compact JSON summary of runs (a baseline to commit to git)",
        description="Write the per-problem outcomes, dataset hash, task version, n and model "
        "of one or more finished runs (one per task) into one JSON file usable wherever a "
        "run folder is accepted (gate --baseline, compare, leaderboard).",
    )
    summary.add_argument("runs", nargs="+", type=Path, metavar="RUN")
    summary.add_argument("--output", "-o", type=Path, help="file (default: stdout)")
    summary.set_defaults(handler=handle_summary)


def _add_comparison_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--metric", default="pass@1",
                        help="pass@K or a per-problem score such as codebleu (default pass@1)")
    parser.add_argument("--allow-mismatch", action="store_true",
                        help="compare runs with different datasets, n, task versions, "
                        "problem sets or unfinished runs (over the shared problems), flagged")
    parser.add_argument("--resamples", type=int, default=REPORT_RESAMPLES,
                        help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=None, help="bootstrap seed (fixed default)")


def _comparison_settings(args: argparse.Namespace) -> Any:
    from harness.reports import compare

    if args.resamples < 100:
        raise HarnessError(f"--resamples must be at least 100, got {args.resamples}")
    return compare.Settings(metric=args.metric, resamples=args.resamples,
                            seed=REPORT_SEED if args.seed is None else args.seed,
                            allow_mismatch=args.allow_mismatch)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from harness.io import atomic_write_text

    atomic_write_text(output, text if text.endswith("\n") else text + "\n")
    umask = os.umask(0)
    os.umask(umask)
    output.chmod(0o666 & ~umask)  # a report is for sharing, not private like a temp file
    log.info("wrote %s", output)


def handle_leaderboard(args: argparse.Namespace) -> int:
    from harness.reports import html, leaderboard, loading

    paths = args.paths or [Path("results")]
    found = loading.discover(paths)
    notes = [f"skipped unfinished run: {reason}" for reason in found.incomplete]
    for note in notes:
        log.warning("%s", note)
    if not found.runs:
        raise HarnessError(f"no finished runs in {', '.join(str(p) for p in paths)}")
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics \
        else None
    board = leaderboard.build(found.runs, all_runs=args.all_runs, metrics=metrics, notes=notes)
    if args.format == "md":
        text = leaderboard.to_markdown(board)
    elif args.format == "csv":
        text = leaderboard.to_csv(board)
    elif args.format == "json":
        text = leaderboard.to_json(board)
    else:
        text = html.render(board, title=args.title)
    _emit(text, args.output)
    return 0


def handle_compare(args: argparse.Namespace) -> int:
    from harness.reports import compare, loading

    settings = _comparison_settings(args)
    result = compare.compare(loading.load_runs(args.run_a), loading.load_runs(args.run_b),
                             settings)
    text = compare.format_json(result) if args.format == "json" else compare.format_text(result)
    _emit(text, None)
    return 0


def handle_gate(args: argparse.Namespace) -> int:
    from harness.reports import gate, loading

    if args.write_baseline is not None:
        if args.output is None:
            raise HarnessError("--write-baseline needs --output FILE")
        runs = loading.load_runs(args.write_baseline)
        loading.write_summary(runs, args.output)
        print(f"wrote baseline summary of {len(runs)} run(s) to {args.output}")
        return 0
    missing = [flag for flag, value in (("--baseline", args.baseline),
                                        ("--candidate", args.candidate),
                                        ("--max-drop", args.max_drop)) if value is None]
    if missing:
        raise HarnessError(f"gate needs {', '.join(missing)} (or --write-baseline RUN "
                           "--output FILE)")
    settings = gate.GateSettings(
        max_drop=args.max_drop, alpha=args.alpha,
        rule=gate.NON_INFERIORITY if args.strict else gate.SIGNIFICANT_DROP,
        comparison=_comparison_settings(args),
    )
    settings.validate()
    baseline = loading.load_runs(args.baseline)
    candidate = loading.load_runs(args.candidate)
    outcome = gate.run_gate(baseline, candidate, settings)
    _emit(gate.format_json(outcome) if args.format == "json" else gate.reason(outcome), None)
    return outcome.exit_code


def handle_summary(args: argparse.Namespace) -> int:
    from harness.reports import loading

    runs = [run for path in args.runs for run in loading.load_runs(path)]
    if args.output is None:
        _emit(loading.summary_text(runs), None)
        return 0
    loading.write_summary(runs, args.output)
    print(f"wrote summary of {len(runs)} run(s) to {args.output}")
    return 0

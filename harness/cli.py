"""The `harness` command line: run, evaluate, tasks, models, plus the commands of the
reports, metrics and sandbox packages (each module's ``register`` adds its own)."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.errors import HarnessError

log = logging.getLogger("harness")

# Modules that add subcommands; each defines register(subparsers).
COMMAND_MODULES = (
    "harness.commands",
    "harness.metrics.cli",
    "harness.reports.cli",
    "harness.sandbox.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Execution-based benchmark harness for code-generation models.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * args.verbose if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "%(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args) or 0)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("harness: interrupted; completed work is saved, rerun to resume", file=sys.stderr)
        return 130


def path_arg(value: str) -> Path:
    return Path(value).expanduser()

"""The `harness` command line: run, evaluate, sanitize, tasks, models, plus the commands of
the reports, metrics and sandbox packages (each module's ``register`` adds its own).

Every failure a user can cause ends in one ``harness: error: ...`` line and exit 2."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import HarnessError

log = logging.getLogger("harness")

# Modules that add subcommands; each defines register(subparsers).
COMMAND_MODULES = (
    "harness.commands",
    "harness.metrics.cli",
    "harness.reports.cli",
    "harness.sandbox.cli",
    "harness.distributed.sweep_cli",
    "harness.contamination_cli",
)


class ErrorParser(argparse.ArgumentParser):
    """argparse's usage errors in the harness's one-line form (exit 2)."""

    def error(self, message: str) -> Any:
        where = self.prog.removeprefix("harness").strip()
        raise HarnessError(f"{where}: {message}" if where else message)


def add_global_flags(parser: argparse.ArgumentParser, top: bool) -> None:
    """-v and -q, accepted before or after the subcommand (at every level). Only the top
    level sets defaults, so flags given after a subcommand never reset those given before."""
    parser.add_argument("-v", "--verbose", action="count",
                        default=0 if top else argparse.SUPPRESS, help="more logging")
    parser.add_argument("-q", "--quiet", action="store_true",
                        default=False if top else argparse.SUPPRESS, help="no progress bars")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                add_global_flags(sub, top=False)


def build_parser() -> argparse.ArgumentParser:
    parser = ErrorParser(
        prog="harness",
        description="Execution-based benchmark harness for code-generation models.",
    )
    parser.add_argument("--version", action="version", version=f"harness {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=ErrorParser)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    add_global_flags(parser, top=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except HarnessError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
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
    except BrokenPipeError:
        # The reader went away (`harness tasks --json | head`): nothing left to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def path_arg(value: str) -> Path:
    return Path(value).expanduser()

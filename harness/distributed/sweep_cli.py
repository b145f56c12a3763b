"""``harness sweep``: every (model, task) pair as its own run, then a leaderboard."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError

# Flags that set a field of every run (name -> RunConfig field).
RUN_FLAGS = {"n": "n", "temperature": "temperature", "top_p": "top_p",
             "max_new_tokens": "max_new_tokens", "seed": "seed", "limit": "limit",
             "sandbox": "sandbox", "workers": "workers", "timeout": "timeout",
             "executor": "executor", "batch_size": "batch_size"}


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    sweep = subparsers.add_parser(
        "sweep",
        help="run every (model, task) pair, on a Ray cluster or here, then a leaderboard",
        description="Run each (model, task) pair as its own resumable run (a folder under the "
        "sweep's folder), as Ray tasks on the cluster given by --ray-address, else here one "
        "after another; then write leaderboard.md and leaderboard.json beside the runs. "
        "Running the same sweep again resumes it. A sweep file (TOML) can give the pairs, "
        "per-task and per-model settings, and each run's resources (see docs/distributed.md).",
    )
    sweep.add_argument("config", nargs="?", type=Path, metavar="SWEEP_TOML",
                       help="sweep file; flags given too override its values")
    sweep.add_argument("--models", help="comma-separated aliases or specs")
    sweep.add_argument("--tasks", help="comma-separated task names")
    sweep.add_argument("--output-dir", help="the sweep's folder (default: results/sweep-<hash>)")
    sweep.add_argument("--ray-address", metavar="ADDR",
                       help="schedule the runs on this Ray cluster (auto, HOST:PORT); "
                       "default: here, one after another, without Ray")
    sweep.add_argument("--cpus-per-run", type=float, metavar="N",
                       help="CPU cores each run takes on the cluster (default 1)")
    sweep.add_argument("--gpus-per-run", type=float, metavar="N",
                       help="GPUs each run takes on the cluster (default: what its model needs)")
    group = sweep.add_argument_group("settings of every run")
    group.add_argument("--n", type=int, help="samples per problem")
    group.add_argument("--temperature", type=float)
    group.add_argument("--top-p", type=float)
    group.add_argument("--max-new-tokens", type=int)
    group.add_argument("--seed", type=int)
    group.add_argument("--limit", type=int, help="only the first N problems of each task")
    group.add_argument("--batch-size", type=int)
    group.add_argument("--sandbox", help="isolation backend of each run")
    group.add_argument("--workers", type=int, help="execution workers of each run")
    group.add_argument("--timeout", type=float, help="fixed per-sample time limit")
    group.add_argument("--executor", choices=["local", "ray"],
                       help="where each run executes its programs (default: local, i.e. the "
                       "node the run is on)")
    sweep.set_defaults(handler=handle_sweep)


def spec_data(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The sweep's fields: the file's, then the flags'; and where they came from."""
    from harness.distributed.sweep import load_sweep_file

    data: dict[str, Any] = load_sweep_file(args.config) if args.config else {}
    where = str(args.config) if args.config else "sweep"
    for flag in ("models", "tasks"):
        value = getattr(args, flag)
        if value is not None:
            data[flag] = [part.strip() for part in value.split(",") if part.strip()]
    if args.output_dir:
        data["output_dir"] = args.output_dir
    settings = dict(data.get("settings", {}))
    for flag, name in RUN_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            settings[name] = value
    data["settings"] = settings
    resources = dict(data.get("resources", {}))
    if args.cpus_per_run is not None:
        resources["cpus"] = args.cpus_per_run
    if args.gpus_per_run is not None:
        resources["gpus"] = args.gpus_per_run
    data["resources"] = resources
    if not data.get("models") or not data.get("tasks"):
        raise HarnessError("sweep needs models and tasks (--models A,B --tasks X,Y, or a "
                           "sweep file)")
    return data, where


def handle_sweep(args: argparse.Namespace) -> int:
    from harness.distributed.sweep import PairResult, make_spec, run_sweep

    data, where = spec_data(args)
    spec = make_spec(data, where)

    def report(result: PairResult) -> None:
        state = "done" if result.status == "complete" else f"FAILED: {result.error}"
        print(f"{result.task} / {result.model}: {state} ({result.seconds:.0f} s)", flush=True)

    record = run_sweep(spec, args.ray_address, report, progress=not args.quiet)
    if record.leaderboard:
        sys.stdout.write(Path(record.leaderboard).read_text(encoding="utf-8"))
        print(f"leaderboard: {record.leaderboard}")
    failed = [r for r in record.runs if r.status != "complete"]
    if failed:
        print(f"{len(failed)} of {len(record.runs)} runs failed; rerun the sweep to resume them",
              file=sys.stderr)
        return 1
    return 0

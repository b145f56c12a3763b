"""Execution throughput of the Ray executor against the local one, on the same cores, and the
driver's cost per outcome.

Workload: every HumanEval canonical solution x ``--repeat`` (1640 programs at 10), built by
the harness's own task (prompt + solution + tests), fixed 10 s limits, no cache, no
timeout re-runs. Configurations, all with the same total cores (``--cores``, default all
of this machine's):

  local        the local executor: ``open_sandbox(inner, cores)``
  ray-1node    a Ray cluster on this machine with one node of ``cores`` CPUs
  ray-Nnodes   the same cores split into ``--nodes`` nodes (default 2) of cores/N CPUs

Each Ray configuration is measured against the local executor in alternating rounds
(``--rounds``, after a warm-up pass of each), so that the load of a shared machine falls
on both alike; the median of the per-round ratios is reported. Then the driver's cost per
outcome: a sandbox that answers at once with a pre-made outcome runs on the N-node cluster,
so everything measured is the streaming path (submit, poll, unpack, book-keeping); the
driver process's CPU seconds per outcome (Ray's threads in the driver included) give the
outcomes/s one driver core sustains. Two more costs the driver pays per outcome are measured
on their own: the run folder's (an ExecutionRecord appended to executions.jsonl), and the
trusted check of each outcome, which the driver makes on the default path (HumanEval checked
outside the candidate's process: its tests replayed on the outputs the job returned, unless
they are the reference's own text). The projection to N nodes caps throughput at what one
driver core takes in with all three, counting every outcome's test as replayed.

    python benchmarks/ray_exec_throughput.py [--repeat 10] [--rounds 3] [--sandbox bwrap]

Writes benchmarks/results/ray_exec_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.sandbox import ExecJob, Outcome, Sandbox, Status

RESULTS = Path(__file__).resolve().parent / "results" / "ray_exec_throughput.json"
OBJECT_STORE = 80 * 2**20


def build_jobs(repeat: int) -> list[ExecJob]:
    from harness.sandbox import Limits
    from harness.tasks import TaskOptions, create_task

    task = create_task("humaneval", TaskOptions())
    jobs = []
    for problem in task.load():
        program = task.program(problem, task.solution(problem, problem.reference))
        assert program is not None
        for i in range(repeat):
            jobs.append(ExecJob(f"{problem.key}#{i}", program.source, Limits(timeout_s=10.0),
                                program.libraries))
    return jobs


def rate(sandbox: Any, jobs: list[ExecJob]) -> float:
    """Samples/second of one pass over ``jobs`` (all must pass)."""
    began = time.perf_counter()
    outcomes = list(sandbox.run(jobs))
    elapsed = time.perf_counter() - began
    failed = [job.job_id for job, outcome in outcomes if not outcome.passed]
    assert len(outcomes) == len(jobs) and not failed, failed[:5]
    return len(jobs) / elapsed


def interleaved(local: Any, remote: Any, jobs: list[ExecJob], rounds: int) -> dict[str, Any]:
    """Rounds of the local executor and the Ray one, alternating (which goes first too), so
    that the load of a shared machine falls on both alike; a warm-up pass of each first."""
    rate(local, jobs[:200])
    rate(remote, jobs[:200])
    local_rates, ray_rates = [], []
    for index in range(rounds):
        order = ("local", "ray") if index % 2 == 0 else ("ray", "local")
        for which in order:
            value = rate(local if which == "local" else remote, jobs)
            (local_rates if which == "local" else ray_rates).append(value)
        print(f"  round {index + 1}: local {local_rates[-1]:6.1f}/s, ray {ray_rates[-1]:6.1f}/s "
              f"({ray_rates[-1] / local_rates[-1]:.2f})", flush=True)
    ratios = [r / loc for r, loc in zip(ray_rates, local_rates, strict=True)]
    return {"local_samples_per_s": [round(r, 1) for r in local_rates],
            "ray_samples_per_s": [round(r, 1) for r in ray_rates],
            "ratio_per_round": [round(r, 3) for r in ratios],
            "median_local": round(statistics.median(local_rates), 1),
            "median_ray": round(statistics.median(ray_rates), 1),
            "median_ratio": round(statistics.median(ratios), 3)}


def start_cluster(nodes: int, cpus_per_node: int) -> Any:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": cpus_per_node, "object_store_memory": OBJECT_STORE,
        "include_dashboard": False})
    for _ in range(nodes - 1):
        cluster.add_node(num_cpus=cpus_per_node, object_store_memory=OBJECT_STORE)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    return cluster


def stop_cluster(cluster: Any) -> None:
    import ray

    ray.shutdown()
    cluster.shutdown()


# --------------------------------------------------------------------------- driver cost


class InstantSandbox(Sandbox):
    """Answers every job at once with the same pre-made outcome (a passed HumanEval run):
    what is left to measure is the path from the nodes to the driver. The node actors get
    this class by value (it lives in __main__)."""

    name = "instant"

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        outcome = Outcome(Status.PASSED, "", 0.021)
        for job in jobs:
            yield job, outcome


def driver_cost(address: str, jobs: list[ExecJob], total: int, depths: list[int]
                ) -> list[dict[str, Any]]:
    from harness.distributed.ray_sandbox import RaySandbox

    stream = [jobs[i % len(jobs)] for i in range(total)]
    rows = []
    for depth in depths:
        with RaySandbox(None, 1, address, factory=InstantSandbox, queue_depth=depth) as box:
            list(box.run(stream[:2000]))  # warm-up
            answers, answered = box.answers, box.answered
            cpu, wall = time.process_time(), time.perf_counter()
            count = sum(1 for _ in box.run(stream))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            batch = (box.answered - answered) / max(1, box.answers - answers)
        assert count == total
        rows.append({"queue_depth": depth, "outcomes": total,
                     "outcomes_per_answer": round(batch, 1),
                     "driver_cpu_us_per_outcome": round(cpu / total * 1e6, 1),
                     "driver_core_outcomes_per_s": round(total / cpu),
                     "wall_outcomes_per_s": round(total / wall)})
        print(f"  depth {depth:5d} ({batch:.0f} per answer): "
              f"{rows[-1]['driver_cpu_us_per_outcome']:6.1f} us driver CPU "
              f"per outcome = {rows[-1]['driver_core_outcomes_per_s']:7d}/s per driver core; "
              f"{rows[-1]['wall_outcomes_per_s']}/s wall", flush=True)
    return rows


def record_cost(count: int = 20000) -> float:
    """CPU microseconds to turn an outcome into an ExecutionRecord and append it to a run
    folder's executions.jsonl (what the runner does per outcome)."""
    from harness.io import safe_text
    from harness.results import RunStore
    from harness.schema import ExecutionRecord

    outcome = Outcome(Status.PASSED, "", 0.021)
    with tempfile.TemporaryDirectory() as folder, RunStore(Path(folder)) as store:
        store.open("bench", fresh=True)
        began = time.process_time()
        for i in range(count):
            store.add_execution(ExecutionRecord(
                key=f"HumanEval/{i % 164}", task_id=f"HumanEval/{i % 164}", sample=i // 164,
                status=outcome.status.value, detail=safe_text(outcome.detail)[:500],
                duration_s=round(outcome.duration_s, 4), cached=False))
        return (time.process_time() - began) / count * 1e6


def checking_cost(inner: str, cores: int, passes: int = 5) -> dict[str, Any]:
    """CPU microseconds the driver spends on the trusted check of one outcome on the default
    path (``judged``), timed over real outcomes of HumanEval's canonical solutions (one call
    job per problem): ``replay``, the test replayed on the outputs, what a sample whose
    outputs are not the reference's own text costs (a wrong one stops at its first failing
    assert); ``identical``, a sample whose records are the reference's (the quick path)."""
    from dataclasses import replace

    from harness.execution import ExecSettings, Executor, judged
    from harness.sandbox import open_sandbox
    from harness.schema import SampleRecord
    from harness.tasks import TaskOptions, create_task

    task = create_task("humaneval", TaskOptions())
    problems = task.load()
    settings = ExecSettings(sandbox=inner, workers=cores, cache=False, progress=False)
    with Executor(task, problems, settings, "ray_exec_throughput") as executor:
        samples = [SampleRecord(key=p.key, task_id=p.task_id, sample=0, raw=p.reference,
                                completion=p.reference) for p in problems]
        jobs = [executor.job(executor.problems[s.key], s) for s in samples]
        checked = [job for job in jobs if job.calls is not None]
        with open_sandbox(inner, cores) as sandbox:
            outcomes = list(sandbox.run(checked))
        pairs = [(executor.checkers[key], executor.stages[key][0], outcome)
                 for job, outcome in outcomes
                 for key in [job.job_id.rpartition("#")[0]]]
    costs = {}
    for name, strip in (("replay", True), ("identical", False)):
        began = time.process_time()
        for _ in range(passes):
            verdicts = [judged(checker, replace(stage, outputs_text=None) if strip else stage,
                               outcome) for checker, stage, outcome in pairs]
        costs[name] = round((time.process_time() - began) / (passes * len(pairs)) * 1e6, 1)
        failed = [v.detail for v in verdicts if not v.passed]
        assert not failed, failed[:3]
    return {"problems": len(problems), "checked_outside": len(pairs),
            "cpu_us_per_outcome": costs["replay"],
            "cpu_us_per_identical_outcome": costs["identical"]}


def fit_driver_cost(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Least-squares fit of driver CPU per outcome = per_outcome + per_answer / b, where b is
    the outcomes per poll answer: a fixed cost per outcome and one per round trip."""
    xs = [1.0 / row["outcomes_per_answer"] for row in rows]
    ys = [float(row["driver_cpu_us_per_outcome"]) for row in rows]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
             / sum((x - mean_x) ** 2 for x in xs))
    return {"per_outcome_us": round(mean_y - slope * mean_x, 1),
            "per_answer_us": round(slope, 1)}


def projection(results: dict[str, Any], cores: int, multi: str) -> list[dict[str, Any]]:
    """Expected samples/s on N nodes of C cores: N x C x the measured per-core rate of the
    multi-node Ray configuration, capped by what one driver core can take in: 1 / (driver
    CPU per outcome at the batch such nodes answer with, from the fit, + the run folder's
    cost per outcome + the trusted check of the outcome). The cap without the check (tasks
    checked in the candidate's process) is given too."""
    from harness.distributed.ray_sandbox import QUEUE_SLACK

    per_core = results[multi]["median_ray"] / cores
    fit = results["driver_fit"]
    rows = []
    for node_cores in sorted({cores, 16, 64}):
        batch = node_cores + QUEUE_SLACK  # about one outcome per worker plus the slack
        in_process = (fit["per_outcome_us"] + fit["per_answer_us"] / batch
                      + results["record_write_cpu_us_per_outcome"])
        cap = 1e6 / (in_process + results["checking"]["cpu_us_per_outcome"])
        for nodes in (1, 2, 4, 8, 16, 32, 64, 128):
            work = nodes * node_cores * per_core
            rows.append({"nodes": nodes, "cores_per_node": node_cores,
                         "samples_per_s": round(min(work, cap)), "driver_bound": work > cap,
                         "driver_cap_per_s": round(cap),
                         "driver_cap_in_process_per_s": round(1e6 / in_process)})
    return rows


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="copies of each solution")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per configuration")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--sandbox", default=None, help="inner sandbox (default bwrap if usable)")
    parser.add_argument("--driver-outcomes", type=int, default=50000)
    args = parser.parse_args()

    from harness.distributed.ray_sandbox import RaySandbox
    from harness.sandbox import default_sandbox_name, open_sandbox

    inner = args.sandbox or default_sandbox_name()
    jobs = build_jobs(args.repeat)
    per_node = args.cores // args.nodes
    assert per_node * args.nodes == args.cores, "--cores must split evenly into --nodes"
    results: dict[str, Any] = {}
    for nodes, cpus in ((1, args.cores), (args.nodes, per_node)):
        name = f"ray-{nodes}node" + ("s" if nodes > 1 else "")
        print(f"{name} ({nodes} x {cpus} CPUs) against the local executor ({args.cores} "
              f"{inner} workers), {len(jobs)} jobs", flush=True)
        cluster = start_cluster(nodes, cpus)
        try:
            with open_sandbox(inner, args.cores) as local, \
                    RaySandbox(inner, None, cluster.address) as remote:
                assert remote.workers == args.cores
                results[name] = interleaved(local, remote, jobs, args.rounds)
            if nodes > 1:
                print("driver cost per outcome (pre-made outcomes through the stream):",
                      flush=True)
                results["driver"] = driver_cost(cluster.address, jobs, args.driver_outcomes,
                                                [4, 16, 128, 1024])
        finally:
            stop_cluster(cluster)
    results["record_write_cpu_us_per_outcome"] = round(record_cost(), 1)
    results["checking"] = checking_cost(inner, args.cores)
    print("trusted check per outcome (HumanEval, checked outside):",
          results["checking"], flush=True)
    best = min(row["driver_cpu_us_per_outcome"] for row in results["driver"])
    results["driver_outcomes_per_s_per_core"] = {
        "streaming_only": round(1e6 / best),
        "with_run_folder": round(1e6 / (best + results["record_write_cpu_us_per_outcome"])),
        "with_run_folder_and_checking": round(1e6 / (
            best + results["record_write_cpu_us_per_outcome"]
            + results["checking"]["cpu_us_per_outcome"]))}
    results["driver_fit"] = fit_driver_cost(results["driver"])
    results["projection"] = projection(results, args.cores, f"ray-{args.nodes}nodes")
    import ray

    output = {
        "benchmark": "ray_exec_throughput",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or
                    platform.machine(), "python": sys.version.split()[0],
                    "ray": ray.__version__, "note": "shared with other jobs: expect noise"},
        "workload": {"programs": len(jobs), "repeat": args.repeat, "sandbox": inner,
                     "cores": args.cores, "nodes": args.nodes, "timeout_s": 10.0,
                     "rounds": args.rounds},
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(output, indent=2) + "\n")
    print({name: results[name]["median_ratio"] for name in results if name.startswith("ray-")},
          results["driver_outcomes_per_s_per_core"])
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

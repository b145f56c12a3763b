"""The Ray parts on a real multi-node Ray cluster on this machine (``ray.cluster_utils``):
execution gives the local executor's verdicts, a node removed mid-run loses nothing,
model replicas give the samples of one model, sweeps run as Ray tasks.

One small cluster serves the module: a head and a worker node of 1 CPU each (another node
is added and removed by the node-loss test). The sandbox in the nodes is bwrap where it
works (it does inside Ray actors), else local.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import ray
from backend_requests import by_key, request
from ray.cluster_utils import Cluster
from tiny_models import build_tiny_llama

from harness.backends import BackendContext, ModelSpec, create_backend
from harness.config import RunConfig
from harness.distributed import maybe_replicate, open_executor_sandbox
from harness.distributed.ray_sandbox import RaySandbox
from harness.distributed.sweep import make_spec, run_sweep
from harness.execution import make_job
from harness.records import SamplingParams
from harness.results import RunStore
from harness.runner import run
from harness.sandbox import ExecJob
from harness.sandbox.bwrap import bwrap_problem
from harness.tasks import TaskOptions, create_task

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

OBJECT_STORE = 80 * 2**20  # the smallest Ray accepts; outcomes are small
INNER = "bwrap" if bwrap_problem() is None else "local"
MBPP = Path(__file__).resolve().parents[2] / "shared" / "data" / "mbpp"
WRONG = "    return None\n"
ERROR = "    raise ValueError('planted')\n"
LOOP = "    while True:\n        pass\n"
LOOPING = {3, 50, 100, 150}  # problems whose sample 9 never ends (a few: each costs 2 limits)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "object_store_memory": OBJECT_STORE, "include_dashboard": False})
    cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def samples_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HumanEval x 10 (1640 samples): mostly the canonical solutions, with wrong answers,
    errors and a few endless loops among them, so every verdict kind is compared."""
    task = create_task("humaneval", TaskOptions())
    path = tmp_path_factory.mktemp("ray-samples") / "samples.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for index, problem in enumerate(task.load()):
            for sample in range(10):
                kind = (index + sample) % 10
                completion = (LOOP if sample == 9 and index in LOOPING else WRONG if kind == 7
                              else ERROR if kind == 8 else problem.reference)
                out.write(json.dumps({"task_id": problem.task_id, "completion": completion})
                          + "\n")
    return path


@pytest.fixture(scope="module")
def local_run(samples_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same samples through the local executor: the verdicts to match."""
    folder = tmp_path_factory.mktemp("ray-local") / "run"
    config = RunConfig(task="humaneval", model=f"samples:{samples_file}", sandbox=INNER,
                       workers=2, exec_cache=False, progress=False, output_dir=str(folder))
    run(config, samples_file)
    return folder


def verdicts(folder: Path) -> dict[tuple[str, int], str]:
    return {sid: record.status for sid, record in RunStore(folder).executions().items()}


def test_local_run_has_every_kind_of_verdict(local_run: Path) -> None:
    counts = collections.Counter(verdicts(local_run).values())
    assert sum(counts.values()) == 1640
    assert counts["timeout"] == len(LOOPING)
    assert counts["passed"] > 1000 and counts["failed"] > 100 and counts["error"] > 100


def test_cli_evaluate_on_the_cluster_gives_the_local_verdicts(
        cluster: Cluster, samples_file: Path, local_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "harness", "-q", "evaluate", "--task", "humaneval",
         "--samples", str(samples_file), "--executor", "ray", "--ray-address", cluster.address,
         "--sandbox", INNER, "--no-exec-cache", "--output-dir", str(folder)],
        capture_output=True, text=True, timeout=1200, check=False, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-3000:]
    assert verdicts(folder) == verdicts(local_run)
    run_info = json.loads((folder / "run.json").read_text())
    assert run_info["sandbox"]["backend"] == "ray"
    assert run_info["sandbox"]["identity"].startswith(f"{INNER}:")


def local_jobs(local_run: Path) -> list[ExecJob]:
    """The local run's samples as jobs, with the local run's time limits."""
    task = create_task("humaneval", TaskOptions())
    problems = {p.key: p for p in task.load()}
    limits = json.loads((local_run / "run.json").read_text())["limits"]["timeouts_s"]
    samples = RunStore(local_run).samples().values()
    return [make_job(task, problems[s.key], s, limits[s.key]) for s in samples]


def test_a_node_removed_mid_run_loses_nothing(
        cluster: Cluster, local_run: Path, caplog: pytest.LogCaptureFixture) -> None:
    extra = cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
    cluster.wait_for_nodes()
    jobs = local_jobs(local_run)[:600]
    local = verdicts(local_run)
    expected = {job.job_id: local[tuple_id(job.job_id)] for job in jobs}
    seen: collections.Counter[str] = collections.Counter()
    statuses = {}
    caplog.set_level(logging.WARNING, logger="harness.distributed.ray_sandbox")
    with RaySandbox(INNER, None, cluster.address) as sandbox:
        assert len(sandbox.nodes) == 3
        for job, outcome in sandbox.run_retrying(jobs, 1):
            seen[job.job_id] += 1
            statuses[job.job_id] = outcome.status.value
            if len(seen) == 100:
                cluster.remove_node(extra)
        assert len(sandbox.nodes) == 2
    assert set(seen) == {job.job_id for job in jobs}
    assert max(seen.values()) == 1  # each job exactly once
    assert statuses == expected
    lost = [r.getMessage() for r in caplog.records if "lost Ray node" in r.getMessage()]
    assert len(lost) == 1
    assert "its 0 unfinished" not in lost[0]  # the removed node had jobs under way


def test_a_node_that_joins_mid_run_is_used(
        cluster: Cluster, caplog: pytest.LogCaptureFixture) -> None:
    # Jobs of 0.1 s: the run lasts long enough for the new node to start and take work.
    jobs = [ExecJob(f"j{i}", f"import time\ntime.sleep(0.1)\nassert {i} % 5\n")
            for i in range(240)]
    seen: collections.Counter[str] = collections.Counter()
    caplog.set_level(logging.INFO, logger="harness.distributed.ray_sandbox")
    joined = None
    try:
        with RaySandbox(INNER, None, cluster.address, refresh_s=0.5) as sandbox:
            assert len(sandbox.nodes) == 2
            for job, outcome in sandbox.run(jobs):
                seen[job.job_id] += 1
                assert outcome.passed == (int(job.job_id[1:]) % 5 != 0)
                if len(seen) == 10:
                    joined = cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE)
            assert len(sandbox.nodes) == 3 and sandbox.workers == 3
    finally:
        if joined is not None:
            cluster.remove_node(joined)
    assert set(seen) == {job.job_id for job in jobs} and max(seen.values()) == 1
    assert any("joined: 1 workers" in r.getMessage() for r in caplog.records)


def tuple_id(job_id: str) -> tuple[str, int]:
    key, _, index = job_id.rpartition("#")
    return key, int(index)


def test_open_executor_sandbox_ray_runs_on_every_node(cluster: Cluster) -> None:
    jobs = [ExecJob(f"j{i}", f"import os\nprint(os.getpid())\nassert {i} % 3\n")
            for i in range(12)]
    with open_executor_sandbox("ray", INNER, 1, cluster.address) as sandbox:
        assert isinstance(sandbox, RaySandbox)
        assert sandbox.workers == 2  # one per node
        outcomes = dict(sandbox.run(jobs))
    assert {job.job_id for job in outcomes} == {job.job_id for job in jobs}
    passed = {job.job_id for job, outcome in outcomes.items() if outcome.passed}
    assert passed == {f"j{i}" for i in range(12) if i % 3}


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("ray-tiny") / "llama")


def test_two_replicas_give_the_samples_of_one(cluster: Cluster, tiny_llama: Path) -> None:
    spec = ModelSpec(name="tiny-llama", backend="hf", model=str(tiny_llama))
    params = SamplingParams(n=3, temperature=0.8, max_new_tokens=12, seed=7)
    prompts = ["def add(a, b):\n", "import os\n\n\ndef walk(root):\n", "class Stack:\n",
               "def fib(n):\n    ", "# sort a list\n", "def parse(text):\n"]
    requests = [request(f"p{i}", text, params) for i, text in enumerate(prompts)]
    context = BackendContext(show_progress=False)
    with create_backend(spec, context) as single:
        alone = by_key(list(single.generate(requests)))
    with maybe_replicate(spec, context, 2, cluster.address) as replicated:
        assert replicated.fingerprint() == spec.fingerprint()
        together = list(replicated.generate(requests))
    assert {c.extra["replica"] for c in together} == {0, 1}
    assert len(together) == len(prompts) * 3
    assert {sid: c.text for sid, c in by_key(together).items()} == {
        sid: c.text for sid, c in alone.items()}
    assert len({c.text for c in together}) > len(prompts)  # sampled, not greedy


def test_sweep_runs_each_pair_as_a_ray_task(cluster: Cluster, tmp_path: Path) -> None:
    if not MBPP.exists():
        pytest.skip(f"{MBPP} not present")
    spec = make_spec({"models": ["reference"], "tasks": ["humaneval", "mbpp"],
                      "output_dir": str(tmp_path / "sweep"), "settings": {"limit": 3},
                      "task": {"mbpp": {"data_dir": str(MBPP)}}}, "test")
    record = run_sweep(spec, cluster.address)
    assert [(r.task, r.status) for r in record.runs] == [("humaneval", "complete"),
                                                         ("mbpp", "complete")]
    for result in record.runs:
        metrics: dict[str, Any] = json.loads((Path(result.run_dir) / "metrics.json").read_text())
        assert metrics["metrics"]["pass@1"] == 100.0
        assert metrics["num_problems"] == 3
    board = (tmp_path / "sweep" / "leaderboard.md").read_text()
    assert "humaneval pass@1" in board and "mbpp pass@1" in board
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["where"] == cluster.address

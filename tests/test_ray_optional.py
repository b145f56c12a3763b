"""The Ray parts without a cluster: Ray stays optional (never imported on the default path,
one clear line when it is missing), a node's pool actor as a plain object around a real
sandbox, replica sharding and resources, and sweeps run here one after another."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from harness.backends import ModelSpec
from harness.distributed import open_executor_sandbox
from harness.distributed.node_pool import NodePool, Packed
from harness.distributed.replicas import replica_resources, shard
from harness.distributed.sweep import make_spec, plan_pairs
from harness.errors import HarnessError
from harness.records import GenerationRequest, Prompt, SamplingParams
from harness.sandbox import ExecJob, Outcome, Sandbox
from harness.sandbox.local import LocalSandbox


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False, env=os.environ.copy())


def test_local_executor_is_the_plain_sandbox_and_imports_no_ray() -> None:
    done = python(
        "import sys\n"
        "from harness.distributed import open_executor_sandbox\n"
        "from harness.sandbox import open_sandbox\n"
        "box = open_executor_sandbox('local', 'local', 3, None)\n"
        "plain = open_sandbox('local', 3)\n"
        "print(type(box).__name__, box.workers, box.identity() == plain.identity(),\n"
        "      'ray' in sys.modules)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["LocalSandbox", "3", "True", "False"]


def test_missing_ray_is_one_line_naming_the_extra() -> None:
    done = python(
        "import sys\n"
        "sys.modules['ray'] = None  # as if not installed\n"
        "from harness.distributed import maybe_replicate, open_executor_sandbox\n"
        "from harness.backends import BackendContext, ModelSpec\n"
        "for call in (lambda: open_executor_sandbox('ray', None, None, 'auto'),\n"
        "             lambda: maybe_replicate(ModelSpec(name='r', backend='reference'),\n"
        "                                     BackendContext(), 2, None)):\n"
        "    try:\n"
        "        call()\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, '|', exc)\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("MissingDependencyError | --executor ray needs Ray")
    assert lines[1].startswith("MissingDependencyError | --replicas needs Ray")
    assert all("pip install 'harness[ray]'" in line for line in lines)


def test_an_unreachable_cluster_is_one_line_at_once() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    with pytest.raises(HarnessError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        open_executor_sandbox("ray", None, None, f"127.0.0.1:{port}").start()
    assert time.monotonic() - began < 30
    with pytest.raises(HarnessError, match="expected auto, HOST:PORT or ray://HOST:PORT"):
        open_executor_sandbox("ray", None, None, "head-node").start()


def test_unknown_executor_is_an_error() -> None:
    with pytest.raises(HarnessError, match="unknown executor 'slurm'"):
        open_executor_sandbox("slurm", None, None, None)


# ---------------------------------------------------------------------- a node's pool


def collect(pool: NodePool, count: int, timeout: float = 60.0) -> list[Packed]:
    got: list[Packed] = []
    deadline = time.monotonic() + timeout
    while len(got) < count and time.monotonic() < deadline:
        got += pool.poll(1.0, 0.01, 100)
    return got


def tagged(count: int, start: int = 0) -> list[ExecJob]:
    return [ExecJob(str(start + i), f"assert {start + i} % 4 != 1\n") for i in range(count)]


def test_node_pool_runs_jobs_and_holds_none_back_once_idle() -> None:
    pool = NodePool("local", 2)
    try:
        pool.submit(1, tagged(5), idle=False)
        # More may come: the pool may hold the last outcome back while it waits for jobs...
        first = collect(pool, 4, timeout=30)
        assert len(first) >= 3
        # ...and hands everything over once told that nothing more is coming.
        pool.submit(2, [], idle=True)
        rest = collect(pool, 5 - len(first))
        outcomes = {tag: status for tag, status, *_ in first + rest}
        assert outcomes == {i: "failed" if i % 4 == 1 else "passed" for i in range(5)}
        # A later batch starts a new sandbox run on the same workers.
        pool.submit(3, tagged(3, start=10), idle=True)
        assert sorted(tag for tag, *_ in collect(pool, 3)) == [10, 11, 12]
    finally:
        pool.close()


def test_node_pool_keeps_the_newest_submission_s_idle_flag() -> None:
    pool = NodePool("local", 1)
    try:
        # A threaded actor may run submissions out of order: the older one (seq 4, "more
        # to come") must not undo the newer one's "nothing more".
        pool.submit(5, [], idle=True)
        pool.submit(4, tagged(3), idle=False)
        assert sorted(tag for tag, *_ in collect(pool, 3)) == [0, 1, 2]
    finally:
        pool.close()


class BrokenSandbox(Sandbox):
    name = "broken"

    def run(self, jobs: Iterable[ExecJob]) -> Iterator[tuple[ExecJob, Outcome]]:
        next(iter(jobs))
        raise HarnessError("the node's sandbox broke")


def test_a_broken_node_sandbox_is_reported_by_poll() -> None:
    pool = NodePool(None, 1, factory=BrokenSandbox)
    try:
        pool.submit(1, tagged(2), idle=True)
        with pytest.raises(RuntimeError, match="HarnessError: the node's sandbox broke"):
            collect(pool, 1)
    finally:
        pool.close()


def test_node_pool_describes_its_sandbox() -> None:
    pool = NodePool("local", 2)
    try:
        info = pool.describe()
    finally:
        pool.close()
    assert info["name"] == "local" and info["workers"] == 2
    assert info["identity"] == LocalSandbox(2).identity()
    assert set(info["type"]) == {"cpu", "machine"}


# ---------------------------------------------------------------------- replicas


def test_shard_balances_work_and_keeps_every_request() -> None:
    params = SamplingParams(n=1, max_new_tokens=100)
    requests = [GenerationRequest(f"p{i}", f"p{i}", Prompt("x"), params,
                                  tuple(range(i % 5 + 1))) for i in range(20)]
    shards = shard(requests, 3)
    assert sorted(r.key for part in shards for r in part) == sorted(r.key for r in requests)
    loads = [sum(len(r.sample_indices) for r in part) for part in shards]
    assert max(loads) - min(loads) <= 5


def test_replica_resources() -> None:
    vllm = ModelSpec(name="v", backend="vllm", model="m", options={"tensor_parallel_size": 2})
    assert replica_resources(vllm, 2, cluster_gpus=4) == (2, 1)
    assert replica_resources(vllm, 2, cluster_gpus=0) == (0, 1)  # CPU cluster
    with pytest.raises(HarnessError, match="needs 6 GPUs; the Ray cluster has 4"):
        replica_resources(vllm, 3, cluster_gpus=4)
    both = vllm.model_copy(update={"options": {"data_parallel_size": 2}})
    with pytest.raises(HarnessError, match="not both"):
        replica_resources(both, 2, cluster_gpus=4)
    hf = ModelSpec(name="h", backend="hf", model="m")
    assert replica_resources(hf, 4, cluster_gpus=4) == (1, 1)
    assert replica_resources(hf.model_copy(update={"device": "cpu"}), 4, 4) == (0, 1)


# ---------------------------------------------------------------------- sweeps


def test_sweep_plan_checks_everything_before_running() -> None:
    with pytest.raises(HarnessError, match="unknown task 'humaneva'"):
        plan_pairs(make_spec({"models": ["reference"], "tasks": ["humaneva"]}, "t"))
    with pytest.raises(HarnessError, match=r"\[task.mbpp\] but 'mbpp' is not in tasks"):
        plan_pairs(make_spec({"models": ["reference"], "tasks": ["humaneval"],
                              "task": {"mbpp": {"limit": 2}}}, "t"))
    with pytest.raises(HarnessError, match="'model' is set by the sweep itself"):
        plan_pairs(make_spec({"models": ["reference"], "tasks": ["humaneval"],
                              "settings": {"model": "x"}}, "t"))
    with pytest.raises(HarnessError, match="humaneval / reference: n: "):
        plan_pairs(make_spec({"models": ["reference"], "tasks": ["humaneval"],
                              "settings": {"n": 0}}, "t"))
    with pytest.raises(HarnessError, match="t: models: "):
        make_spec({"models": [], "tasks": ["humaneval"]}, "t")


def test_sweep_pairs_take_settings_in_order(tmp_path: Path) -> None:
    spec = make_spec({"models": ["reference", "samples:/x.jsonl"], "tasks": ["humaneval"],
                      "output_dir": str(tmp_path), "settings": {"limit": 5, "n": 2},
                      "task": {"humaneval": {"limit": 3}},
                      "model": {"reference": {"limit": 1}}}, "t")
    pairs = {(p.model, p.task): p.config for p in plan_pairs(spec)}
    assert pairs[("reference", "humaneval")].limit == 1
    assert pairs[("samples:/x.jsonl", "humaneval")].limit == 3
    assert pairs[("reference", "humaneval")].n == 2
    assert pairs[("reference", "humaneval")].output_dir == str(tmp_path / "humaneval__reference")


def test_sweep_here_without_ray_through_the_cli(tmp_path: Path) -> None:
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text('models = ["reference"]\ntasks = ["humaneval"]\n'
                          "[settings]\nlimit = 2\nworkers = 1\n")
    folder = tmp_path / "sweep"
    args = [sys.executable, "-m", "harness", "-q", "sweep", str(sweep_file), "--n", "2",
            "--output-dir", str(folder)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "humaneval / reference: done" in done.stdout
    assert "| reference | n=2 T=0 | 100.0" in done.stdout
    record = json.loads((folder / "sweep.json").read_text())
    assert record["where"] == "local"
    assert [run["status"] for run in record["runs"]] == ["complete"]
    metrics = json.loads((folder / "humaneval__reference" / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["num_problems"] == 2
    # The same command again resumes: the finished run is kept, not redone.
    run_json = folder / "humaneval__reference" / "run.json"
    executions = folder / "humaneval__reference" / "executions.jsonl"
    started, executed = json.loads(run_json.read_text())["started"], executions.read_text()
    again = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False,
                           env=os.environ.copy())
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(run_json.read_text())["started"] == started
    assert executions.read_text() == executed


def test_sweep_here_imports_no_ray(tmp_path: Path) -> None:
    done = python(
        "import sys\n"
        "from harness.distributed.sweep import make_spec, run_sweep\n"
        f"spec = make_spec({{'models': ['reference'], 'tasks': ['humaneval'],\n"
        f"                  'output_dir': {str(tmp_path / 's')!r},\n"
        "                  'settings': {'limit': 1, 'workers': 1, 'progress': False}}, 't')\n"
        "record = run_sweep(spec)\n"
        "print(record.runs[0].status, 'ray' in sys.modules)\n")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["complete", "False"]

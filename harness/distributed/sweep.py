"""Sweeps: every (model, task) pair as one resumable run with its own folder, then a
leaderboard of them all.

On a Ray cluster each pair is one Ray task (with the GPUs its model needs), run wherever
the cluster has room; without one they run here one after another, without Ray. Runs are
ordinary run folders under the sweep's folder (``<dir>/<task>__<model>``), so re-running
the same sweep resumes each unfinished run and leaves finished ones as they are.

A sweep file (TOML)::

    models = ["reference", "qwen2.5-coder-1.5b-instruct"]  # as for --model
    tasks = ["humaneval", "mbpp"]
    output_dir = "results/sweep-qwen"   # default: results/sweep-<hash>

    [settings]             # RunConfig fields for every run (as the run flags: n, temperature,
    n = 10                 # limit, seed, sandbox, workers, timeout, chat, ...)
    temperature = 0.8

    [task.mbpp]            # only for runs of this task (wins over [settings])
    data_dir = "/data/mbpp"

    # Only for runs of this model (wins over [task.X]); quote names with dots or colons.
    [model."qwen2.5-coder-1.5b-instruct"]
    chat = true

    [resources]            # what each run takes on a cluster
    cpus = 1               # CPU cores per run (also its execution workers, unless set)
    gpus = "auto"          # "auto": the model's (vLLM: tensor x pipeline parallel; hf: 1;
                           # none on a cluster without GPUs), or a number
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.config import RunConfig
from harness.errors import HarnessError
from harness.io import atomic_write_json, atomic_write_text
from harness.results import results_root, slug

log = logging.getLogger(__name__)

# Set by the sweep itself, per run.
_RESERVED = {"task", "model", "output_dir"}


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(1.0, gt=0)
    gpus: float | Literal["auto"] = "auto"


class SweepSpec(BaseModel):
    """A sweep: the pairs, the settings of their runs, where they go."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    output_dir: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    task: dict[str, dict[str, Any]] = Field(default_factory=dict)
    model: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=lambda: Resources(cpus=1.0, gpus="auto"))

    @field_validator("models", "tasks")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        names = [v.strip() for v in value if v.strip()]
        if len(set(names)) != len(names):
            raise ValueError("names must not repeat")
        return names

    def folder(self) -> Path:
        if self.output_dir:
            return Path(self.output_dir).expanduser()
        material = json.dumps(self.model_dump(exclude={"output_dir", "resources"}),
                              sort_keys=True, default=str)
        return results_root() / f"sweep-{hashlib.sha256(material.encode()).hexdigest()[:10]}"


@dataclass(frozen=True)
class Pair:
    model: str
    task: str
    config: RunConfig

    @property
    def name(self) -> str:
        return f"{self.task}__{slug(self.model)}"


class PairResult(BaseModel):
    """One run of the sweep, as ``sweep.json`` records it."""

    model: str
    task: str
    run_dir: str
    status: Literal["complete", "failed"]
    error: str | None = None
    seconds: float = 0.0
    node: str | None = None


class SweepRecord(BaseModel):
    """``sweep.json``: the sweep's pairs and how each went."""

    models: list[str]
    tasks: list[str]
    where: str  # "local", or the Ray address
    runs: list[PairResult]
    leaderboard: str | None = None


def load_sweep_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HarnessError(f"sweep file not found: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable TOML file ({exc})") from exc


def make_spec(data: dict[str, Any], where: str) -> SweepSpec:
    try:
        return SweepSpec(**data)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(part) for part in error["loc"])
        raise HarnessError(f"{where}: {place}: {error['msg']}") from None


def plan_pairs(spec: SweepSpec) -> list[Pair]:
    """Every (model, task) pair with its validated run configuration; nothing runs if any
    model, task or setting is wrong."""
    from harness.backends import resolve_model
    from harness.tasks import tasks

    for scope, table in [("settings", spec.settings), *[(f"task.{k}", v)
                         for k, v in spec.task.items()], *[(f"model.{k}", v)
                         for k, v in spec.model.items()]]:
        reserved = sorted(_RESERVED & set(table))
        if reserved:
            raise HarnessError(f"sweep {scope}: {reserved[0]!r} is set by the sweep itself")
    for name in spec.task:
        if name not in spec.tasks:
            raise HarnessError(f"sweep has [task.{name}] but {name!r} is not in tasks")
    for name in spec.model:
        if name not in spec.models:
            raise HarnessError(f"sweep has [model.{name}] but {name!r} is not in models")
    for task in spec.tasks:
        tasks.get(task)  # an unknown name is one line with a suggestion
    folder = spec.folder()
    pairs = []
    for model in spec.models:
        for task in spec.tasks:
            values = {**spec.settings, **spec.task.get(task, {}), **spec.model.get(model, {})}
            try:
                config = RunConfig(task=task, model=model, **values)
            except ValidationError as exc:
                error = exc.errors()[0]
                raise HarnessError(f"sweep settings for {task} / {model}: "
                                   f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
                                   ) from None
            pair = Pair(model, task, config)
            pairs.append(Pair(model, task, config.model_copy(
                update={"output_dir": str(folder / pair.name)})))
        resolve_model(model, [Path(p) for p in pairs[-1].config.models_files])
    return pairs


def run_pair(fields: dict[str, Any]) -> dict[str, Any]:
    """Run one pair (here, or as a Ray task on some node): its result, plus the files a
    leaderboard needs, for a driver that cannot see the node's disk."""
    import socket

    from harness.runner import run

    config = RunConfig(**fields)
    began = time.monotonic()
    base = {"model": config.model, "task": config.task, "run_dir": str(config.output_dir),
            "node": socket.gethostname()}
    try:
        output = run(config)
    except HarnessError as exc:
        return {**base, "status": "failed", "error": str(exc),
                "seconds": round(time.monotonic() - began, 1)}
    files = {}
    for name in ("metrics.json", "run.json"):
        path = output.run_dir / name
        if path.is_file():
            files[name] = path.read_text(encoding="utf-8")
    return {**base, "status": "complete", "seconds": round(time.monotonic() - began, 1),
            "files": files}


def run_sweep(spec: SweepSpec, address: str | None = None,
              on_result: Callable[[PairResult], None] | None = None, *,
              progress: bool = True) -> SweepRecord:
    """Run every pair (on the Ray cluster at ``address``, else here one after another),
    then write ``sweep.json`` and the leaderboard into the sweep's folder. ``progress``
    False turns the runs' progress bars off (``-q``)."""
    pairs = plan_pairs(spec)
    folder = spec.folder()
    folder.mkdir(parents=True, exist_ok=True)
    if address is None:
        where = "local"
        answers = []
        for pair in pairs:
            log.info("sweep: %s on %s", pair.model, pair.task)
            fields = pair.config.model_dump()
            fields["progress"] = progress and pair.config.progress
            answers.append(run_pair(fields))
            if on_result is not None:
                on_result(_result(answers[-1]))
    else:
        where = address
        answers = _run_on_cluster(spec, pairs, address, on_result)
    results = []
    for answer in answers:
        _keep_files(answer)
        results.append(_result(answer))
    record = SweepRecord(models=spec.models, tasks=spec.tasks, where=where, runs=results)
    done = [Path(r.run_dir) for r in results if r.status == "complete"]
    if done:
        record.leaderboard = str(write_leaderboard(done, folder))
    atomic_write_json(folder / "sweep.json", record.model_dump(mode="json"))
    return record


def _result(answer: dict[str, Any]) -> PairResult:
    return PairResult(**{k: v for k, v in answer.items() if k != "files"})


def _keep_files(answer: dict[str, Any]) -> None:
    """A run made on a node whose disk this machine does not share: keep its metrics and
    run record here, where the leaderboard reads them."""
    run_dir = Path(answer["run_dir"])
    if answer["status"] != "complete" or (run_dir / "metrics.json").is_file():
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    for name, text in answer.get("files", {}).items():
        atomic_write_text(run_dir / name, text)


def _run_on_cluster(spec: SweepSpec, pairs: list[Pair], address: str,
                    on_result: Callable[[PairResult], None] | None) -> list[dict[str, Any]]:
    from harness.distributed.cluster import connect, release

    ray = connect(address, "a sweep on a Ray cluster needs Ray")
    try:
        cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
        task = ray.remote(run_pair)
        refs = {}
        for pair in pairs:
            cpus, gpus = pair_resources(spec.resources, pair, cluster_gpus)
            fields = pair.config.model_dump()
            fields["progress"] = False  # nobody sees a node's progress bars
            if pair.config.workers is None:
                fields["workers"] = max(1, int(cpus))
            ref = task.options(num_cpus=cpus, num_gpus=gpus, max_retries=1,
                               retry_exceptions=False).remote(fields)
            refs[ref] = pair
        log.info("sweep: %d runs scheduled on the Ray cluster", len(refs))
        answers = []
        waiting = list(refs)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            pair = refs[ready[0]]
            try:
                answer = ray.get(ready[0])
            except Exception as exc:  # the task's process or node died twice
                cause = getattr(exc, "cause", None) or exc
                answer = {"model": pair.model, "task": pair.task,
                          "run_dir": str(pair.config.output_dir), "status": "failed",
                          "error": str(cause).strip().splitlines()[0] if str(cause).strip()
                          else type(cause).__name__}
            answers.append(answer)
            if on_result is not None:
                on_result(_result(answer))
        order = {(p.model, p.task): i for i, p in enumerate(pairs)}
        return sorted(answers, key=lambda a: order[(a["model"], a["task"])])
    finally:
        release()


def pair_resources(resources: Resources, pair: Pair, cluster_gpus: float) -> tuple[float, float]:
    """(CPUs, GPUs) of one run on the cluster."""
    if resources.gpus != "auto":
        return resources.cpus, float(resources.gpus)
    if cluster_gpus == 0:
        return resources.cpus, 0.0
    from harness.backends import resolve_model

    spec = resolve_model(pair.model, [Path(p) for p in pair.config.models_files])
    if spec.device == "cpu" or spec.backend not in ("hf", "vllm"):
        return resources.cpus, 0.0
    gpus = 1
    if spec.backend == "vllm":
        gpus = int(spec.options.get("tensor_parallel_size", 1)) * int(
            spec.options.get("pipeline_parallel_size", 1)) * int(
            spec.options.get("data_parallel_size", 1))
    return resources.cpus, float(gpus)


def write_leaderboard(run_dirs: list[Path], folder: Path) -> Path:
    """``leaderboard.md`` and ``leaderboard.json`` of the finished runs, in ``folder``."""
    from harness.reports import leaderboard, loading

    found = loading.discover(run_dirs)
    board = leaderboard.build(found.runs, all_runs=True)
    atomic_write_text(folder / "leaderboard.json", leaderboard.to_json(board) + "\n")
    path = folder / "leaderboard.md"
    atomic_write_text(path, leaderboard.to_markdown(board) + "\n")
    return path

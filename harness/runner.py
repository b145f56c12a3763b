"""The pipeline: task -> prompts -> backend -> completions -> sandbox -> outcomes -> metrics
-> results. Each stage appends to the run folder as it goes, so re-running the same command
resumes: finished samples are not generated again, finished executions not re-run."""

from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from harness.backends import BackendContext, ModelAPI, ModelSpec, create_backend, resolve_model
from harness.config import RunConfig
from harness.errors import HarnessError
from harness.provenance import combined_sha256, provenance, utc_now
from harness.records import GenerationRequest, SamplingParams
from harness.results import RunStore, results_root, slug
from harness.scoring import score_run
from harness.tasks import Problem, Task, TaskOptions, create_task
from harness.tasks.data import cache_dir

log = logging.getLogger(__name__)


@dataclass
class RunPlan:
    """What one run covers: the problems and how many samples each gets."""

    task: Task
    spec: ModelSpec
    problems: list[Problem]
    samples_per_problem: dict[str, int]
    params: SamplingParams
    dataset_sha256: str
    config_hash: str
    run_dir: Path
    k: list[int] = field(default_factory=list)
    k_explicit: bool = False
    notes: list[str] = field(default_factory=list)


def run(config: RunConfig) -> int:
    with sigterm_as_interrupt():
        task = create_task(config.task, TaskOptions(
            data_dir=config.data_path(), strict=config.strict, source=config.source,
            args=dict(config.task_args)))
        task_settings = task.settings()
        spec = resolve_model(config.model, [Path(p) for p in config.models_files])
        problems = select_problems(task, task.load(), config)
        context = BackendContext(
            normalize_task_id=task.normalize_task_id, sample_key=task.sample_key,
            cache_dir=str(cache_dir()), batch_size=config.batch_size, base_url=config.base_url,
            show_progress=False)  # the runner shows one bar for generation
        with create_backend(spec, context) as backend:
            plan = make_plan(config, task, task_settings, spec, backend, problems)
            store = RunStore(plan.run_dir)
            try:
                store.open(plan.config_hash, config.fresh)
                started = (store.read_run_json() or {}).get("started") or utc_now()
                store.write_run_json(run_record(config, plan, backend, started, "running"))
                generate(config, plan, backend, store)
            finally:
                store.close()
        store = RunStore(plan.run_dir)
        try:
            store.open(plan.config_hash, fresh=False)
            execution_info = execute(config, plan, store) if task.executes else {}
            metrics = score_run(plan, store, execution_info)
            store.write_metrics(metrics)
            record = run_record(config, plan, backend, started, "complete")
            record.update(finished=utc_now(), **{k: v for k, v in execution_info.items()
                                                   if k in ("limits", "sandbox")})
            store.write_run_json(record)
        finally:
            store.close()
    report(plan, metrics)
    return 0


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so workers and containers are cleaned up."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def select_problems(task: Task, problems: list[Problem], config: RunConfig) -> list[Problem]:
    if config.problems:
        by_key = {p.key: p for p in problems}
        by_id = {p.task_id: p for p in problems}
        chosen = []
        for raw in config.problems:
            wanted = task.normalize_task_id(raw.strip())
            problem = by_key.get(wanted) or by_id.get(wanted) or by_key.get(raw.strip())
            if problem is None:
                raise HarnessError(f"--problems: {raw!r} is not a problem of {task.name}")
            chosen.append(problem)
        problems = chosen
    if config.limit:
        problems = problems[: config.limit]
    if not problems:
        raise HarnessError(f"{task.name}: no problems selected")
    return problems


def sampling_params(config: RunConfig, task: Task, spec: ModelSpec) -> SamplingParams:
    """Task defaults < the alias's `sampling` table < command-line flags."""
    values: dict[str, Any] = {"max_new_tokens": task.default_max_new_tokens}
    values.update({k: v for k, v in spec.sampling.items()
                   if k in ("n", "temperature", "top_p", "max_new_tokens", "seed")})
    fields_set = config.model_fields_set
    for name in ("n", "temperature", "top_p", "max_new_tokens", "seed"):
        if name in fields_set and getattr(config, name) is not None:
            values[name] = getattr(config, name)
    return SamplingParams(stop=task.stop_sequences, **values)


def make_plan(config: RunConfig, task: Task, task_settings: dict[str, Any], spec: ModelSpec,
              backend: ModelAPI, problems: list[Problem]) -> RunPlan:
    params = sampling_params(config, task, spec)
    notes: list[str] = []
    fixed = getattr(backend, "samples_per_problem", None)
    if callable(fixed):
        in_file: dict[str, int] = fixed()
        known = {p.key for p in problems}
        unknown = sorted(set(in_file) - known)
        if unknown:
            log.warning("samples file: %d lines name problems not selected in %s (e.g. %s); "
                        "ignored", len(unknown), task.name, unknown[0])
        covered = [p for p in problems if p.key in in_file]
        if not covered:
            raise HarnessError(f"the samples file covers none of the {task.name} problems")
        if len(covered) < len(problems):
            notes.append(f"samples cover {len(covered)} of {len(problems)} problems; "
                         f"scored over those {len(covered)}")
            log.warning("warning: %s", notes[-1])
        problems = covered
        per_problem = {p.key: in_file[p.key] for p in problems}
    else:
        per_problem = {p.key: params.n for p in problems}
    dataset_sha = combined_sha256([f.sha256 for f in task.dataset_files])
    config_hash = config.config_hash(extra={
        "model_fingerprint": backend.fingerprint(), "dataset_sha256": dataset_sha,
        "task_version": task.version, "task_settings": task_settings,
        "sampling": params.__dict__ | {"stop": list(params.stop)},
    })
    if config.output_dir:
        run_dir = Path(config.output_dir).expanduser()
    else:
        run_dir = results_root() / f"{task.name}__{slug(spec.name)}__{config_hash}"
    return RunPlan(task, spec, problems, per_problem, params, dataset_sha, config_hash,
                   run_dir, config.requested_k(), config.k is not None, notes)


def run_record(config: RunConfig, plan: RunPlan, backend: ModelAPI, started: str,
               status: str) -> dict[str, Any]:
    return {
        "run_id": plan.run_dir.name,
        "command": sys.argv,
        "config": config.model_dump(),
        "config_hash": plan.config_hash,
        "model": {**plan.spec.model_dump(), "fingerprint": backend.fingerprint()},
        "task": {"name": plan.task.name, "version": plan.task.version,
                 "settings": plan.task.settings(), "num_problems": len(plan.problems)},
        "sampling": {**plan.params.__dict__, "stop": list(plan.params.stop)},
        "dataset_files": [f.__dict__ for f in plan.task.dataset_files],
        "dataset_sha256": plan.dataset_sha256,
        "seed": plan.params.seed,
        "notes": plan.notes,
        **provenance(),
        "started": started,
        "status": status,
    }


def generate(config: RunConfig, plan: RunPlan, backend: ModelAPI, store: RunStore) -> None:
    from harness.progress import progress

    done = store.samples()
    requests = []
    for problem in plan.problems:
        missing = tuple(i for i in range(plan.samples_per_problem[problem.key])
                        if (problem.key, i) not in done)
        if missing:
            requests.append(GenerationRequest(
                key=problem.key, task_id=problem.task_id, prompt=problem.prompt,
                params=plan.params, sample_indices=missing, reference=problem.reference))
    total = sum(len(r.sample_indices) for r in requests)
    if not total:
        return
    if len(done):
        log.info("resuming: %d samples already generated, %d to go", len(done), total)
    by_key = {p.key: p for p in plan.problems}
    requests_by_key = {r.key: r for r in requests}
    cache = open_generation_cache(config, plan)
    fingerprint = backend.fingerprint()
    with progress(total, "generate", config.progress) as bar:
        if cache is not None:
            remaining = []
            for request in requests:
                for completion in cache.get_many(fingerprint, request).values():
                    store.add_sample(sample_record(plan, by_key[request.key], completion))
                    bar.update(1)
                rest = cache.missing(fingerprint, request)
                if rest is not None:
                    remaining.append(rest)
            requests = remaining
        for completion in backend.generate(requests):
            if cache is not None:
                cache.put(fingerprint, requests_by_key[completion.key], completion)
            store.add_sample(sample_record(plan, by_key[completion.key], completion))
            bar.update(1)
    if cache is not None:
        cache.close()


def open_generation_cache(config: RunConfig, plan: RunPlan) -> Any:
    if not config.generation_cache or plan.spec.backend in ("reference", "samples"):
        return None
    from harness.backends.cache import GenerationCache

    return GenerationCache(cache_dir() / "generations.sqlite")


def sample_record(plan: RunPlan, problem: Problem, completion: Any) -> dict[str, Any]:
    kind = completion.extra.get("kind", "completion")
    replayed = completion.finish_reason == "replay"
    # Samples files hold completions as their tool post-processed them: used as given.
    processed = completion.text if replayed else plan.task.postprocess(problem, completion.text)
    return {
        "key": problem.key, "task_id": problem.task_id, "sample": completion.sample,
        "raw": completion.text, "completion": processed, "kind": kind,
        "finish_reason": completion.finish_reason, "num_tokens": completion.num_tokens,
        "prompt_truncated": completion.prompt_truncated,
    }


def execute(config: RunConfig, plan: RunPlan, store: RunStore) -> dict[str, Any]:
    from harness.execution import execute_samples

    return execute_samples(config, plan, store)


def report(plan: RunPlan, metrics: dict[str, Any]) -> None:
    scores = ", ".join(f"{name} = {value:.2f}" for name, value in metrics["metrics"].items())
    print(f"{plan.task.name} / {plan.spec.name}: {metrics['num_problems']} problems, "
          f"n = {metrics['n']}: {scores}")
    excluded = metrics.get("excluded")
    if excluded:
        print(f"excluded (the sandbox lacks what they need): {excluded['count']} problems "
              f"{excluded['missing_libraries']}")
    left_out = metrics.get("left_out")
    if left_out:
        print(f"left out by the task (flaky or broken tests): {left_out['count']} problems "
              f"{sorted(left_out['reasons'])}")
    print(f"metrics: {plan.run_dir / 'metrics.json'}")

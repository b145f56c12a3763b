"""The pipeline: task -> plan -> samples (a model, or a samples file) -> verdicts -> metrics,
with the run folder as the single place where results are kept.

The stages (``generation``, ``execution``, ``scoring``) take and return records; only this
module opens the run folder, appending each record as it comes, so re-running the same
command resumes: finished samples are not generated again, finished executions not re-run.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from queue import Empty, Full, Queue
from types import FrameType
from typing import Any

from harness.backends import BackendContext, ModelAPI, ModelSpec, create_backend, resolve_model
from harness.backends.spec import SAMPLES
from harness.config import RunConfig
from harness.errors import HarnessError
from harness.exclusions import Exclusions, read_exclusions
from harness.execution import ExecSettings, ExecutionInfo, Executor
from harness.generation import generate, pending_requests
from harness.metrics import scorers
from harness.plan import Mode, RunPlan
from harness.progress import progress
from harness.provenance import combined_sha256, provenance, utc_now
from harness.records import SamplingParams
from harness.results import RunStore, results_root, slug
from harness.samples_file import FileSample, read_samples_file
from harness.schema import (
    DatasetFileInfo,
    ExecutionRecord,
    Metrics,
    RunInfo,
    SampleRecord,
    SamplingInfo,
    TaskInfo,
)
from harness.scoring import score
from harness.settings import cache_dir
from harness.tasks import Problem, Task, TaskOptions, create_task

log = logging.getLogger(__name__)

# Chat answers carry prose and, for reasoning models, long thinking before the code: the
# completion-style defaults (512 tokens) would cut most of them.
CHAT_MAX_NEW_TOKENS = 4096
# Generated samples waiting for the sandbox; past this, generation waits for execution.
OVERLAP_QUEUE = 4096


@dataclass(frozen=True)
class RunOutput:
    """What a finished run produced (also what the Python API returns)."""

    run_dir: Path
    run_info: RunInfo
    metrics: Metrics | None  # None after `harness generate` (nothing scored yet)

    def samples(self) -> list[SampleRecord]:
        return list(RunStore(self.run_dir).samples().values())

    def executions(self) -> list[ExecutionRecord]:
        return list(RunStore(self.run_dir).executions().values())


def run(config: RunConfig, samples_path: Path | None = None, *, execute: bool = True
        ) -> RunOutput:
    """Generate (or read ``samples_path``), execute and score; resumable. With
    ``execute=False`` only the samples are made (``harness generate``)."""
    with sigterm_as_interrupt():
        task = create_task(config.task, TaskOptions(
            data_dir=config.data_path(), strict=config.strict, args=dict(config.task_args)))
        all_problems = task.load()
        problems = select_problems(task, all_problems, config)
        # Against all the task's problems: a report may name problems --limit leaves out.
        exclusions = (read_exclusions(config.exclude_problems, task, all_problems)
                      if config.exclude_problems else None)
        for name in task.scorers:  # a typo in a plugin task's scorers fails before generating
            scorers.get(name)
        info: ExecutionInfo | None = None
        spec = None
        if samples_path is None:
            spec = resolve_model(config.model, [Path(p) for p in config.models_files])
            if spec.backend == SAMPLES:  # `samples:PATH`, or an alias naming a samples file
                samples_path = Path(spec.model).expanduser()
        if samples_path is not None:
            in_file = read_samples_file(samples_path, task, {p.key for p in all_problems})
            plan = samples_plan(config, task, problems, samples_path, in_file)
            with RunStore(plan.run_dir) as store:
                started = open_run(store, config, plan)
                for record in file_sample_records(plan, in_file, store.samples(), config.sanitize):
                    store.add_sample(record)
        else:
            assert spec is not None
            spec = chat_spec(config, spec)
            with load_backend(config, task, spec) as backend:
                plan = model_plan(config, task, problems, spec, backend)
                with RunStore(plan.run_dir) as store:
                    started = open_run(store, config, plan)
                    if execute and task.executes and config.overlap:
                        info = generate_and_execute(store, config, plan, backend)
                    else:
                        generate_into(store, config, plan, backend)
        if not execute:
            return generated(config, plan, started)
        return finish(config, plan, started, info, exclusions)


def finish(config: RunConfig, plan: RunPlan, started: str, info: ExecutionInfo | None,
           exclusions: Exclusions | None = None) -> RunOutput:
    """Execute what is not executed yet, score (with the clean subset when ``exclusions``
    are given), and write the final files."""
    with RunStore(plan.run_dir) as store:
        store.open(plan.config_hash, fresh=False)
        samples = store.samples()
        missing = [sid for sid in plan.sample_ids() if sid not in samples]
        if missing:
            raise HarnessError(f"{len(missing)} samples were not generated; rerun to resume")
        if plan.task.executes and info is None:
            info = execute_into(store, config, plan, backlog(store, config, plan), None)
        metrics = score(plan, samples, store.executions(), info, exclusions)
        store.write_metrics(metrics)
        run_info = run_record(config, plan, started, "complete")
        if info is not None:
            run_info = run_info.model_copy(update={"limits": info.limits, "sandbox": info.sandbox})
        store.write_run_info(run_info)
    return RunOutput(plan.run_dir, run_info, metrics)


def generated(config: RunConfig, plan: RunPlan, started: str) -> RunOutput:
    """The end of a generation-only run: run.json says so; no metrics yet."""
    with RunStore(plan.run_dir) as store:
        store.open(plan.config_hash, fresh=False)
        run_info = run_record(config, plan, started, "running")
        store.write_run_info(run_info)
    return RunOutput(plan.run_dir, run_info, None)


def exec_settings(config: RunConfig) -> ExecSettings:
    return ExecSettings(sandbox=config.sandbox, workers=config.workers, timeout=config.timeout,
                        cache=config.exec_cache, progress=config.progress,
                        executor=config.executor, ray_address=config.ray_address)


def backlog(store: RunStore, config: RunConfig, plan: RunPlan) -> list[SampleRecord]:
    """Samples in the folder without a verdict yet (all of them with --no-exec-cache)."""
    if not config.exec_cache and store.executions():
        log.info("--no-exec-cache: executing the samples again")
        store.discard_executions()
    samples = store.samples()
    done = store.executions()
    todo = [samples[sid] for sid in plan.sample_ids() if sid in samples and sid not in done]
    if done and todo:
        log.info("resuming: %d of %d executions done", len(done), plan.total_samples)
    return todo


def execute_into(store: RunStore, config: RunConfig, plan: RunPlan,
                 todo: list[SampleRecord], incoming: Iterator[SampleRecord] | None
                 ) -> ExecutionInfo:
    """Execute ``todo``, then each sample ``incoming`` yields as it comes, appending the
    verdicts to the run folder."""
    settings = exec_settings(config)
    with Executor(plan.task, plan.problems, settings, plan.dataset_sha256) as executor:
        info = executor.info
        assert info is not None
        excluded = info.excluded_keys
        expected = plan.total_samples - len(store.executions()) if incoming else len(todo)
        expected -= sum(plan.samples_per_problem[key] for key in excluded) if incoming else 0
        stream = chain(executor.heaviest_first(todo), incoming or ())
        with progress(max(expected, 0), f"execute ({info.sandbox.backend})",
                      config.progress and expected > 0, position=1 if incoming else 0) as bar:
            for record in executor.run(s for s in stream if s.key not in excluded):
                store.add_execution(record)
                bar.update(1)
    return info


def generate_and_execute(store: RunStore, config: RunConfig, plan: RunPlan, backend: ModelAPI
                         ) -> ExecutionInfo:
    """Generation here, execution in a thread: samples are executed as they arrive through
    a bounded queue, so the run takes about max(generation, execution), not their sum. The
    thread also starts the sandbox and calibrates the time limits while the model works."""
    todo = backlog(store, config, plan)
    queue: Queue[SampleRecord | None] = Queue(maxsize=OVERLAP_QUEUE)
    stop = threading.Event()
    result: dict[str, Any] = {}

    def incoming() -> Iterator[SampleRecord]:
        while not stop.is_set():
            try:
                item = queue.get(timeout=0.2)
            except Empty:
                continue
            if item is None:
                return
            yield item

    def consume() -> None:
        try:
            result["info"] = execute_into(store, config, plan, todo, incoming())
        except BaseException as exc:  # handed to the main thread, which re-raises it
            result["error"] = exc
            stop.set()

    worker = threading.Thread(target=consume, name="harness-execute", daemon=True)
    worker.start()
    try:
        for record in generate_records(config, plan, backend, store):
            while not stop.is_set():
                try:
                    queue.put(record, timeout=0.2)
                    break
                except Full:
                    continue
            if stop.is_set():
                break
        while not stop.is_set():
            try:
                queue.put(None, timeout=0.2)
                break
            except Full:
                continue
        while worker.is_alive():
            worker.join(timeout=0.2)
    except BaseException:
        stop.set()
        worker.join()
        raise
    if "error" in result:
        raise result["error"]
    info: ExecutionInfo = result["info"]
    return info


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


def chat_spec(config: RunConfig, spec: ModelSpec) -> ModelSpec:
    """The spec with ``--chat`` and ``--system-prompt`` applied."""
    update: dict[str, Any] = {}
    if config.chat:
        update["chat"] = True
    if config.system_prompt is not None:
        if not (config.chat or spec.chat):
            raise HarnessError("--system-prompt needs chat mode (--chat, or chat = true in the "
                               "model's alias)")
        update["options"] = {**spec.options, "system_prompt": config.system_prompt}
    return spec.model_copy(update=update) if update else spec


@contextmanager
def load_backend(config: RunConfig, task: Task, spec: ModelSpec) -> Iterator[ModelAPI]:
    context = BackendContext(
        normalize_task_id=task.normalize_task_id, sample_key=task.sample_key,
        cache_dir=str(cache_dir()), batch_size=config.batch_size, base_url=config.base_url,
        show_progress=False)  # the runner shows one bar for generation
    if spec.backend in ("hf", "vllm"):
        log.info("loading model %s (%s backend)...", spec.model or spec.name, spec.backend)
    began = time.monotonic()
    if config.replicas > 1:
        from harness.distributed import maybe_replicate

        made = maybe_replicate(spec, context, config.replicas, config.ray_address)
    else:
        made = create_backend(spec, context)
    with made as backend:
        if time.monotonic() - began > 1.0:
            log.info("model loaded in %.0f s", time.monotonic() - began)
        yield backend


def sampling_params(config: RunConfig, task: Task, spec: ModelSpec, chat: bool
                    ) -> SamplingParams:
    """Task defaults < the alias's `sampling` table < command-line flags. Chat mode sends no
    completion-style stop sequences: the answer ends at the end of the model's turn."""
    values: dict[str, Any] = {
        "max_new_tokens": CHAT_MAX_NEW_TOKENS if chat else task.default_max_new_tokens}
    values.update({k: v for k, v in spec.sampling.items()
                   if k in ("n", "temperature", "top_p", "max_new_tokens", "seed")})
    fields_set = config.model_fields_set
    for name in ("n", "temperature", "top_p", "max_new_tokens", "seed"):
        if name in fields_set and getattr(config, name) is not None:
            values[name] = getattr(config, name)
    return SamplingParams(stop=() if chat else task.stop_sequences, **values)


def dataset_sha256(task: Task) -> str:
    return combined_sha256([f.sha256 for f in task.dataset_files])


def run_dir_for(config: RunConfig, task: Task, model_name: str, config_hash: str) -> Path:
    if config.output_dir:
        return Path(config.output_dir).expanduser()
    return results_root() / f"{task.name}__{slug(model_name)}__{config_hash}"


def model_plan(config: RunConfig, task: Task, problems: list[Problem], spec: ModelSpec,
               backend: ModelAPI) -> RunPlan:
    mode: Mode = "chat" if spec.chat else "completion"
    params = sampling_params(config, task, spec, mode == "chat")
    from harness.fim import fim_prompt, request_stops

    fim_prompt(spec, problems[0], mode)  # a model without FIM fails before generating
    extra = request_stops(spec, problems)
    if extra:
        params = replace(params, stop=params.stop + extra)
    fingerprint = backend.fingerprint()
    data_sha = dataset_sha256(task)
    config_hash = config.config_hash(extra={
        "model_fingerprint": fingerprint, "dataset_sha256": data_sha, "mode": mode,
        "task_version": task.version, "task_settings": task.settings(),
        "sampling": params.__dict__ | {"stop": list(params.stop)},
    })
    return RunPlan(
        task=task, model_name=spec.name, spec=spec, problems=problems,
        samples_per_problem={p.key: params.n for p in problems}, params=params,
        dataset_sha256=data_sha, config_hash=config_hash,
        run_dir=run_dir_for(config, task, spec.name, config_hash), mode=mode,
        k=config.requested_k(), k_explicit=config.k is not None, model_fingerprint=fingerprint)


def samples_plan(config: RunConfig, task: Task, problems: list[Problem], path: Path,
                 in_file: dict[str, list[FileSample]]) -> RunPlan:
    import hashlib

    notes: list[str] = []
    covered = [p for p in problems if p.key in in_file]
    if not covered:
        raise HarnessError(f"the samples file covers none of the selected {task.name} problems")
    if len(covered) < len(problems):
        notes.append(f"samples cover {len(covered)} of {len(problems)} problems; "
                     f"scored over those {len(covered)}")
        log.warning("warning: %s", notes[-1])
    fingerprint = "samples-" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    data_sha = dataset_sha256(task)
    config_hash = config.config_hash(extra={
        "model_fingerprint": fingerprint, "dataset_sha256": data_sha, "mode": "samples",
        "task_version": task.version, "task_settings": task.settings()})
    name = f"samples:{path}"
    return RunPlan(
        task=task, model_name=name, spec=None, problems=covered,
        samples_per_problem={p.key: len(in_file[p.key]) for p in covered},
        params=SamplingParams(), dataset_sha256=data_sha, config_hash=config_hash,
        run_dir=run_dir_for(config, task, name, config_hash), mode="samples",
        k=config.requested_k(), k_explicit=config.k is not None, notes=notes,
        model_fingerprint=fingerprint)


def file_sample_records(plan: RunPlan, in_file: dict[str, list[FileSample]],
                        done: dict[tuple[str, int], SampleRecord], sanitize: bool
                        ) -> Iterator[SampleRecord]:
    """Samples from a file: used as given (their tool post-processed them), or, with
    ``sanitize``, extracted from chat answers as in chat mode."""
    for problem in plan.problems:
        for item in in_file[problem.key]:
            if (problem.key, item.sample) in done:
                continue
            common: dict[str, Any] = {
                "key": problem.key, "task_id": problem.task_id, "sample": item.sample,
                      "finish_reason": item.finish_reason}
            if sanitize:
                answer = item.raw if item.raw is not None else item.text
                extraction = plan.task.extract(problem, answer)
                yield SampleRecord(**common, raw=answer, completion=extraction.code,
                                   kind="solution", code_found=extraction.found,
                                   extraction=extraction.detail)
            else:
                yield SampleRecord(**common, raw=item.raw if item.raw is not None else item.text,
                                   completion=item.text, kind=item.kind,
                                   code_found=item.code_found, extraction=item.extraction)


def open_run(store: RunStore, config: RunConfig, plan: RunPlan) -> str:
    """Open (or resume) the run folder; the time the run first started."""
    store.open(plan.config_hash, config.fresh)
    previous = store.read_run_info()
    started = previous.started if previous else utc_now()
    done = len(store.samples())
    if done:
        log.info("resuming %s: %d of %d samples done", plan.run_dir, min(done, plan.total_samples),
                 plan.total_samples)
    store.write_run_info(run_record(config, plan, started, "running"))
    return started


def run_record(config: RunConfig, plan: RunPlan, started: str, status: str) -> RunInfo:
    sampling = None
    if plan.mode != "samples":
        sampling = SamplingInfo(**{**plan.params.__dict__, "stop": list(plan.params.stop)})
    model = ({**plan.spec.model_dump(), "fingerprint": plan.model_fingerprint} if plan.spec
             else {"name": plan.model_name, "backend": "samples",
                   "fingerprint": plan.model_fingerprint})
    return RunInfo(
        run_id=plan.run_dir.name, command=list(sys.argv), config=config.model_dump(mode="json"),
        config_hash=plan.config_hash, model=model, model_fingerprint=plan.model_fingerprint,
        task=TaskInfo(name=plan.task.name, version=plan.task.version,
                      settings=plan.task.settings(), num_problems=len(plan.problems)),
        mode=plan.mode, sampling=sampling,
        dataset_files=[DatasetFileInfo(path=f.path, sha256=f.sha256)
                       for f in plan.task.dataset_files],
        dataset_sha256=plan.dataset_sha256, seed=plan.params.seed, notes=plan.notes,
        **provenance(), started=started, status=status,  # type: ignore[arg-type]
        finished=utc_now() if status == "complete" else None,
    )


def generate_records(config: RunConfig, plan: RunPlan, backend: ModelAPI, store: RunStore
                     ) -> Iterator[SampleRecord]:
    """Generate the missing samples, appending each to the run folder, and yield it."""
    requests = pending_requests(plan, store.samples())
    total = sum(len(r.sample_indices) for r in requests)
    if not total:
        return
    cache = None
    if config.generation_cache and backend.cacheable:
        from harness.backends.cache import GenerationCache

        cache = GenerationCache(cache_dir() / "generations.sqlite")
    try:
        with progress(total, "generate", config.progress) as bar:
            for record in generate(plan, backend, requests, cache):
                store.add_sample(record)
                bar.update(1)
                yield record
    finally:
        if cache is not None:
            cache.close()


def generate_into(store: RunStore, config: RunConfig, plan: RunPlan, backend: ModelAPI) -> None:
    for _ in generate_records(config, plan, backend, store):
        pass


def summary_lines(output: RunOutput) -> list[str]:
    """The console summary of a finished run (or of a generation-only one)."""
    metrics = output.metrics
    if metrics is None:
        info = output.run_info
        return [f"{info.task.name} / {info.model.get('name')}: samples of "
                f"{info.task.num_problems} problems generated",
                f"samples: {output.run_dir / 'samples.jsonl'} (harness evaluate --task "
                f"{info.task.name} --samples ... scores them)"]
    scores = ", ".join(f"{name} = {value:.2f}" for name, value in metrics.metrics.items())
    lines = [f"{metrics.task} / {metrics.model}: {metrics.num_problems} problems, "
             f"n = {metrics.n}: {scores}"]
    if metrics.clean is not None:
        clean = metrics.clean
        scores = ", ".join(f"{name} = {value:.2f}" for name, value in clean.metrics.items())
        lines.append(f"clean ({clean.source}, {clean.num_excluded} problems excluded): "
                     f"{clean.num_problems} problems: {scores}")
    answers = metrics.answers
    if answers is not None and metrics.counts:
        line = (f"answers: {answers.samples} = {answers.passed} passed, {answers.failed} failed, "
                f"{answers.error} error, {answers.timeout} timeout")
        if output.run_info.mode != "completion" or answers.no_code:
            line += f"; no code found in {answers.no_code}"
        if answers.truncated:
            line += (f"; {answers.truncated} cut by max_new_tokens "
                     f"({answers.truncated_no_code} before any code)")
        lines.append(line)
    if metrics.excluded:
        lines.append(f"excluded (the sandbox lacks what they need): {metrics.excluded.count} "
                     f"problems {metrics.excluded.missing_libraries}")
    if metrics.left_out:
        lines.append(f"left out by the task (flaky or broken tests): {metrics.left_out.count} "
                     f"problems {sorted(metrics.left_out.reasons)}")
    lines.append(f"metrics: {output.run_dir / 'metrics.json'}")
    return lines

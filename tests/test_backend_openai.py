"""The OpenAI-compatible backend against a real local HTTP server (tests/openai_server.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from backend_requests import by_key, request
from openai_server import Fault, OpenAIServer
from tiny_models import (
    PROBE_SYSTEM,
    PROBE_USER,
    TURN_TOKENS,
    build_tiny_chat_llama,
    build_tiny_llama,
)

from harness.backends import create_backend
from harness.backends.base import BackendContext
from harness.backends.openai import OpenAIBackend
from harness.backends.prompting import sample_seed
from harness.backends.spec import ModelSpec
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest, Prompt, SamplingParams

FAST_RETRIES = {"backoff_base": 0.01, "backoff_max": 0.05}


def make_backend(server: OpenAIServer, chat: bool = False, **options: Any) -> OpenAIBackend:
    spec = ModelSpec(
        name="test-model",
        backend="openai",
        model="tiny",
        chat=chat,
        options={**FAST_RETRIES, **options},
    )
    backend = create_backend(spec, BackendContext(base_url=server.base_url, show_progress=False))
    assert isinstance(backend, OpenAIBackend)
    return backend


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as running:
        yield running


def test_completions_with_n_stop_seed_template_and_key(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", "sk-test")
    server.api_key = "sk-test"
    spec = ModelSpec(
        name="m",
        backend="openai",
        model="tiny",
        template="# task\n{prompt}",
        options={"api_key_env": "MY_KEY", "base_url": server.base_url},
    )
    backend = OpenAIBackend(spec, BackendContext(show_progress=False))
    params = SamplingParams(
        n=3, temperature=0.7, top_p=0.9, max_new_tokens=20, seed=4, stop=("\ndef",)
    )
    out = by_key(list(backend.generate([request("a", "def f():\n", params)])))

    assert sorted(out) == [("a", 0), ("a", 1), ("a", 2)]
    assert len(server.requests) == 1  # one request for the three samples
    seen = server.requests[0]
    assert seen.endpoint == "completions"
    assert seen.headers["authorization"] == "Bearer sk-test"
    body = seen.body
    assert body["prompt"] == "# task\ndef f():\n"
    assert (body["n"], body["max_tokens"], body["temperature"], body["top_p"]) == (3, 20, 0.7, 0.9)
    assert body["stop"] == ["\ndef"]
    assert body["seed"] == sample_seed(4, 0, Prompt("def f():\n")) >> 32
    # The server ended the answer at the stop sequence, as real servers do.
    assert out[("a", 1)].text == f"    return {body['seed']}_1\n"
    assert out[("a", 1)].finish_reason == "stop"


def test_chat_completions_send_messages(server: OpenAIServer) -> None:
    backend = make_backend(server, chat=True, system_prompt="You write Python.")
    params = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    messages = ({"role": "user", "content": "Write f."},)
    chat_request = GenerationRequest("c", "c", Prompt("Write f.", messages), params, (0,))
    out = list(backend.generate([chat_request, request("d", "Write g.", params)]))

    assert sorted(c.key for c in out) == ["c", "d"]
    assert {s.endpoint for s in server.requests} == {"chat/completions"}
    sent = {s.body["messages"][-1]["content"]: s.body["messages"] for s in server.requests}
    assert sent["Write f."][0] == {"role": "system", "content": "You write Python."}
    assert sent["Write g."][-1] == {"role": "user", "content": "Write g."}
    assert all(c.text.startswith("    return ") for c in out)


def chat_request(key: str, user: str, params: SamplingParams) -> GenerationRequest:
    """A prompt as the runner sends it in chat mode: the instruction as the user message."""
    messages = ({"role": "user", "content": user},)
    prompt = Prompt("completion-mode text, not sent in chat mode", messages)
    return GenerationRequest(key, key, prompt, params, tuple(range(params.n)))


def only(completions: Iterator[Completion]) -> Completion:
    [completion] = list(completions)
    return completion


SHORT = "def f():\n    return 1\n"  # 5 tokens (words, and the final newline)
LONG = "def f():\n    return 1\n\n\ndef g():\n    return 2\n"  # 9 tokens


def test_chat_mode_sends_no_stop_and_reads_finish_reason_per_choice(server: OpenAIServer) -> None:
    server.reply = lambda endpoint, body, index: SHORT if index % 2 == 0 else LONG
    backend = make_backend(server, chat=True, system_prompt="Answer with code.")
    params = SamplingParams(n=4, temperature=0.8, max_new_tokens=6, seed=1)  # no stop: chat
    out = by_key(list(backend.generate([chat_request("c", "Write f.", params)])))

    assert len(server.requests) == 1
    seen = server.requests[0]
    assert seen.endpoint == "chat/completions"
    assert "stop" not in seen.body and "prompt" not in seen.body
    assert seen.body["messages"] == [
        {"role": "system", "content": "Answer with code."},
        {"role": "user", "content": "Write f."},
    ]
    assert seen.body["n"] == 4
    # Each choice has its own finish: the short answer ended its turn, the long one was cut
    # by max_tokens (6 words) and is kept as cut: no completion-style stop is applied.
    assert [out[("c", i)].finish_reason for i in range(4)] == ["stop", "length"] * 2
    assert out[("c", 0)].text == SHORT
    assert out[("c", 1)].text == "def f():\n    return 1\n\n\ndef g():"


def test_completion_mode_stop_and_max_tokens_as_real_servers_do(server: OpenAIServer) -> None:
    server.reply = lambda endpoint, body, index: LONG
    backend = make_backend(server)
    stopped = SamplingParams(n=1, temperature=0.0, max_new_tokens=100, stop=("\ndef",))
    cut = SamplingParams(n=1, temperature=0.0, max_new_tokens=3)
    whole = SamplingParams(n=1, temperature=0.0, max_new_tokens=9)
    out = {
        key: only(backend.generate([request(key, "x", params)]))
        for key, params in (("stopped", stopped), ("cut", cut), ("whole", whole))
    }

    assert [s.body.get("stop") for s in server.requests] == [["\ndef"], None, None]
    assert (out["stopped"].text, out["stopped"].finish_reason) == (SHORT + "\n", "stop")
    assert (out["cut"].text, out["cut"].finish_reason) == ("def f():\n    return", "length")
    assert out["cut"].num_tokens == 3
    # The answer ends exactly at max_tokens: the server says it ended by itself.
    assert (out["whole"].text, out["whole"].finish_reason) == (LONG, "stop")


def test_server_without_finish_reason_is_judged_by_token_count(server: OpenAIServer) -> None:
    server.report_finish_reason = False
    server.reply = lambda endpoint, body, index: LONG
    backend = make_backend(server)
    cut = list(backend.generate([request("a", "x", SamplingParams(max_new_tokens=5))]))
    whole = list(backend.generate([request("b", "x", SamplingParams(max_new_tokens=50))]))
    assert server.requests[0].body["max_tokens"] == 5
    assert (cut[0].finish_reason, cut[0].num_tokens) == ("length", 5)
    assert (whole[0].finish_reason, whole[0].num_tokens) == ("stop", 9)


def test_canned_answers_by_prompt_substring() -> None:
    answers = {"add": "    return a + b\n", "fib": "    return n if n < 2 else fib(n - 1)\n"}
    params = SamplingParams(n=2, temperature=0.0, max_new_tokens=64)
    with OpenAIServer(answers=answers) as server:
        backend = make_backend(server, chat=True)
        out = by_key(
            list(
                backend.generate(
                    [chat_request("p1", "Write add(a, b).", params),
                     chat_request("p2", "Write fib(n).", params)]
                )
            )
        )
        assert {key: c.text for key, c in out.items()} == {
            ("p1", 0): answers["add"], ("p1", 1): answers["add"],
            ("p2", 0): answers["fib"], ("p2", 1): answers["fib"],
        }
        assert {c.finish_reason for c in out.values()} == {"stop"}
        with pytest.raises(HarnessError, match=r"HTTP 400: no canned answer for 'Write g\.'"):
            list(backend.generate([chat_request("p3", "Write g.", params)]))
        server.default_answer = "pass\n"
        fallback = list(backend.generate([chat_request("p3", "Write g.", params)]))
        assert [c.text for c in fallback] == ["pass\n", "pass\n"]


def test_greedy_sends_one_request_for_all_samples(server: OpenAIServer) -> None:
    backend = make_backend(server)
    out = list(backend.generate([request("g", "x", SamplingParams(n=4, temperature=0.0))]))
    assert sorted(c.sample for c in out) == [0, 1, 2, 3]
    assert len({c.text for c in out}) == 1
    assert len(server.requests) == 1 and server.requests[0].body["n"] == 1
    assert "top_p" not in server.requests[0].body


def test_server_ignoring_n_falls_back_to_one_request_per_sample(server: OpenAIServer) -> None:
    server.ignore_n = True
    backend = make_backend(server)
    params = SamplingParams(n=4, temperature=1.0, seed=9)
    out = by_key(list(backend.generate([request("a", "x", params)])))

    assert sorted(out) == [("a", i) for i in range(4)]
    first, *rest = server.requests
    assert first.body["n"] == 4
    assert [s.body["n"] for s in rest] == [1, 1, 1]
    # The follow-ups carry each sample's own seed.
    assert sorted(s.body["seed"] for s in rest) == sorted(
        sample_seed(9, i, Prompt("x")) >> 32 for i in (1, 2, 3)
    )
    assert out[("a", 2)].text.startswith(f"    return {sample_seed(9, 2, Prompt('x')) >> 32}_0")

    # Later requests go one per sample straight away.
    server.requests.clear()
    list(backend.generate([request("b", "y", params)]))
    assert [s.body["n"] for s in server.requests] == [1, 1, 1, 1]


def test_rate_limits_are_retried_honouring_retry_after(server: OpenAIServer) -> None:
    server.fail_next(429, times=2, retry_after="0.5")
    backend = make_backend(server)
    started = time.monotonic()
    out = list(backend.generate([request("a", "x", SamplingParams(n=2, temperature=1.0))]))
    elapsed = time.monotonic() - started

    assert sorted(c.sample for c in out) == [0, 1]
    assert [s.status for s in server.requests] == [429, 429, 200]
    assert elapsed >= 1.0  # two Retry-After waits, not the 10 ms backoff


def test_server_errors_exhaust_retries_with_one_clear_error(server: OpenAIServer) -> None:
    server.fail_when = lambda body: Fault(500, message="boom") if "FAIL" in body["prompt"] else None
    backend = make_backend(server, max_retries=2, concurrency=1)
    params = SamplingParams(n=1, temperature=1.0)
    yielded: list[Completion] = []
    with pytest.raises(HarnessError) as caught:
        for completion in backend.generate(
            [request("ok", "fine", params), request("bad", "FAIL", params)]
        ):
            yielded.append(completion)

    message = str(caught.value)
    assert "\n" not in message
    assert "failed after 3 attempt(s)" in message and "HTTP 500: boom" in message
    assert [c.key for c in yielded] == ["ok"]  # what succeeded was handed over first
    assert [s.status for s in server.requests if "FAIL" in s.body["prompt"]] == [500] * 3


def test_client_errors_are_not_retried(server: OpenAIServer) -> None:
    server.fail_next(400)
    backend = make_backend(server)
    with pytest.raises(HarnessError, match="HTTP 400: injected failure"):
        list(backend.generate([request("a", "x", SamplingParams())]))
    assert len(server.requests) == 1


def test_slow_answers_time_out_and_are_retried(server: OpenAIServer) -> None:
    server.delay = 1.5
    backend = make_backend(server, timeout=0.2, max_retries=1)
    started = time.monotonic()
    with pytest.raises(HarnessError, match=r"failed after 2 attempt.*timed out"):
        list(backend.generate([request("a", "x", SamplingParams())]))
    assert time.monotonic() - started < 1.4
    assert len(server.requests) == 2


def test_connection_errors_are_retried_then_reported(server: OpenAIServer) -> None:
    backend = make_backend(server, max_retries=1)
    server.stop()  # nothing listens on the port any more
    with pytest.raises(HarnessError, match=r"failed after 2 attempt.*(Connection|refused)"):
        list(backend.generate([request("a", "x", SamplingParams())]))


def test_concurrency_is_bounded(server: OpenAIServer) -> None:
    server.delay = 0.15
    backend = make_backend(server, concurrency=3)
    params = SamplingParams(n=1, temperature=1.0)
    out = list(backend.generate([request(f"p{i}", "x", params) for i in range(12)]))
    assert len(out) == 12
    assert server.max_active == 3


def test_settings_are_validated_without_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    spec = ModelSpec(name="gpt", backend="openai", model="gpt-4o-mini")
    with pytest.raises(HarnessError, match="set the environment variable OPENAI_API_KEY"):
        OpenAIBackend(spec, BackendContext())
    with pytest.raises(HarnessError, match="not an http"):
        OpenAIBackend(spec, BackendContext(base_url="localhost:8000"))
    bad = spec.model_copy(update={"options": {"concurrency": 0}})
    with pytest.raises(HarnessError, match="concurrency must be at least 1"):
        OpenAIBackend(bad, BackendContext(base_url="http://127.0.0.1:9/v1"))
    unknown = spec.model_copy(update={"options": {"retries": 3}})
    with pytest.raises(HarnessError, match="unknown openai option 'retries'"):
        OpenAIBackend(unknown, BackendContext(base_url="http://127.0.0.1:9/v1"))
    # A local server needs no key; the server address is part of the model's identity.
    local = OpenAIBackend(spec, BackendContext(base_url="http://127.0.0.1:9/v1"))
    other = OpenAIBackend(spec, BackendContext(base_url="http://127.0.0.1:10/v1"))
    assert local.settings.api_key is None
    assert local.fingerprint() != other.fingerprint()


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("openai-tiny") / "llama")


def test_serving_a_tiny_model_for_real(tiny_llama: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompt = "def add(a, b):\n"
    with OpenAIServer(model_dir=tiny_llama) as server:
        backend = make_backend(server)
        greedy = list(
            backend.generate(
                [request("g", prompt, SamplingParams(n=2, temperature=0.0, max_new_tokens=8))]
            )
        )
        sampled = list(
            backend.generate(
                [
                    request(
                        "s", prompt, SamplingParams(n=3, temperature=1.0, max_new_tokens=8, seed=1)
                    )
                ]
            )
        )
        chat = list(
            make_backend(server, chat=True).generate(
                [request("c", prompt, SamplingParams(n=1, temperature=0.0, max_new_tokens=8))]
            )
        )

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    ids = tokenizer(prompt, return_tensors="pt").input_ids
    expected = model.generate(
        input_ids=ids, do_sample=False, max_new_tokens=8, eos_token_id=tokenizer.eos_token_id
    )[0, ids.shape[1] :]
    text = tokenizer.decode(expected, skip_special_tokens=True)
    assert [c.text for c in greedy] == [text, text]
    assert greedy[0].num_tokens == len(expected)
    assert sorted(c.sample for c in sampled) == [0, 1, 2]
    assert len({c.text for c in sampled}) > 1
    assert chat[0].text != text  # the chat template changed what the model saw


def test_chat_with_a_served_instruct_model_ends_at_the_end_of_turn(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The same tiny instruct model served over HTTP and run by the hf backend: the same
    answer, ended at the end of its turn (<|im_end|>), or cut by max_new_tokens."""
    from harness.backends.hf import HFBackend

    chat_model = build_tiny_chat_llama(tmp_path_factory.mktemp("openai-chat") / "chat")
    hf = HFBackend(
        ModelSpec(name="hf-chat", backend="hf", model=str(chat_model), chat=True,
                  options={"system_prompt": PROBE_SYSTEM}),
        BackendContext(show_progress=False),
    )
    ended = SamplingParams(n=1, temperature=0.0, max_new_tokens=12)
    cut = SamplingParams(n=1, temperature=0.0, max_new_tokens=TURN_TOKENS - 1)
    with OpenAIServer(model_dir=chat_model) as server:
        backend = make_backend(server, chat=True, system_prompt=PROBE_SYSTEM)
        served = [
            only(backend.generate([chat_request("p", PROBE_USER, params)]))
            for params in (ended, cut)
        ]
    local = [only(hf.generate([chat_request("p", PROBE_USER, p)])) for p in (ended, cut)]

    assert all("stop" not in s.body for s in server.requests)
    assert served[0].text == local[0].text
    assert (served[0].finish_reason, local[0].finish_reason) == ("stop", "stop")
    assert served[0].num_tokens == TURN_TOKENS + 1  # the server counts <|im_end|>
    assert local[0].num_tokens == TURN_TOKENS
    assert served[1].text == local[1].text
    assert (served[1].finish_reason, local[1].finish_reason) == ("length", "length")

"""The generation cache: keys, persistence across runs and processes, and "raise n" reuse."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tiny_models import build_tiny_llama

from harness.backends.base import BackendContext
from harness.backends.cache import GenerationCache
from harness.backends.hf import HFBackend
from harness.backends.spec import ModelSpec
from harness.records import Completion, GenerationRequest, Prompt, SamplingParams

PARAMS = SamplingParams(n=4, temperature=0.8, top_p=0.95, max_new_tokens=32, seed=1)


def request(key: str = "p1", text: str = "def f():", **params: object) -> GenerationRequest:
    sampling = replace(PARAMS, **params)  # type: ignore[arg-type]
    return GenerationRequest(key, key, Prompt(text), sampling, tuple(range(sampling.n)))


def completion(key: str, sample: int, text: str = "") -> Completion:
    return Completion(key, sample, text or f"body {sample}", "stop", 5, False, {"k": 1})


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[GenerationCache]:
    with GenerationCache(tmp_path / "gen.sqlite") as opened:
        yield opened


def test_round_trip_is_rekeyed_to_the_asking_request(cache: GenerationCache) -> None:
    cache.put("fp", request(), completion("p1", 0, "return 1"))

    # Another problem with the same prompt (e.g. another task) gets it under its own key.
    hit = cache.get("fp", request(key="other"), 0)

    assert hit is not None
    assert (hit.key, hit.sample, hit.text, hit.finish_reason, hit.num_tokens) == (
        "other",
        0,
        "return 1",
        "stop",
        5,
    )
    assert hit.extra == {"k": 1, "cached": True}
    assert cache.get("fp", request(), 1) is None


@pytest.mark.parametrize(
    ("changed", "hit"),
    [
        ({"n": 20}, True),  # n is not part of the key
        ({"temperature": 0.2}, False),
        ({"top_p": 0.5}, False),
        ({"seed": 2}, False),
        ({"max_new_tokens": 64}, False),
        ({"stop": ("\ndef",)}, False),
    ],
)
def test_key_covers_sampling_params_except_n(
    cache: GenerationCache, changed: dict[str, Any], hit: bool
) -> None:
    cache.put("fp", request(), completion("p1", 0))
    assert (cache.get("fp", request(**changed), 0) is not None) is hit


def test_key_covers_model_and_prompt(cache: GenerationCache) -> None:
    cache.put("fp", request(), completion("p1", 0))
    assert cache.get("other-fp", request(), 0) is None
    assert cache.get("fp", request(text="def g():"), 0) is None
    chat = replace(request(), prompt=Prompt("def f():", ({"role": "user", "content": "x"},)))
    assert cache.get("fp", chat, 0) is None


def test_greedy_ignores_seed_and_top_p(cache: GenerationCache) -> None:
    cache.put("fp", request(temperature=0.0, seed=1), completion("p1", 0))
    assert cache.get("fp", request(temperature=0.0, seed=9, top_p=0.5), 0) is not None


def test_missing_lists_only_uncached_samples(cache: GenerationCache) -> None:
    for sample in (0, 2):
        cache.put("fp", request(), completion("p1", sample))
    todo = cache.missing("fp", request())
    assert todo is not None
    assert todo.sample_indices == (1, 3)
    for sample in (1, 3):
        cache.put("fp", request(), completion("p1", sample))
    assert cache.missing("fp", request()) is None
    assert sorted(cache.get_many("fp", request())) == [0, 1, 2, 3]


def test_persists_across_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "gen.sqlite"
    with GenerationCache(path) as first:
        first.put("fp", request(), completion("p1", 0, "kept"))
    with GenerationCache(path) as second:
        hit = second.get("fp", request(), 0)
        assert hit is not None
        assert hit.text == "kept"
    (mode,) = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()
    assert mode == "wal"


def _write_samples(path: str, worker: int) -> None:
    with GenerationCache(Path(path)) as cache:
        for sample in range(40):
            cache.put(
                "fp", request(key=f"w{worker}", text=f"prompt {worker}"), completion("x", sample)
            )


def test_concurrent_processes_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "gen.sqlite"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_samples, args=(str(path), w)) for w in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with GenerationCache(path) as cache:
        assert len(cache) == 120


class CountingBackend(HFBackend):
    """Records which samples it is asked to generate."""

    asked: list[tuple[str, tuple[int, ...]]]

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        self.asked.extend((r.key, r.sample_indices) for r in requests)
        return super().generate(requests)


def generate_with_cache(
    backend: HFBackend, cache: GenerationCache, requests: list[GenerationRequest]
) -> dict[tuple[str, int], Completion]:
    """What the runner does: reuse cached samples, generate the rest, store them as made."""
    fingerprint = backend.fingerprint()
    out = {}
    todo = []
    for req in requests:
        for sample, hit in cache.get_many(fingerprint, req).items():
            out[(req.key, sample)] = hit
        rest = cache.missing(fingerprint, req)
        if rest is not None:
            todo.append(rest)
    by_key = {r.key: r for r in requests}
    for made in backend.generate(todo):
        cache.put(fingerprint, by_key[made.key], made)
        out[(made.key, made.sample)] = made
    return out


def test_raising_n_generates_only_the_new_samples(tmp_path: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: one thread avoids spin-waits on busy machines
    try:
        model = build_tiny_llama(tmp_path / "llama")
        spec = ModelSpec(name="tiny", backend="hf", model=str(model))
        backend = CountingBackend(spec, BackendContext(show_progress=False))
        backend.asked = []
        cache = GenerationCache(tmp_path / "gen.sqlite")
        small = [request("a", "def a():", n=2, max_new_tokens=8), request("b", "x = ", n=2)]
        small = [replace(r, params=replace(r.params, max_new_tokens=8)) for r in small]

        first = generate_with_cache(backend, cache, small)
        larger = [
            replace(r, params=replace(r.params, n=4), sample_indices=(0, 1, 2, 3)) for r in small
        ]
        backend.asked = []
        second = generate_with_cache(backend, cache, larger)

        assert backend.asked == [("a", (2, 3)), ("b", (2, 3))]
        assert len(second) == 8
        for key in [("a", 0), ("a", 1), ("b", 0), ("b", 1)]:
            assert second[key].text == first[key].text
            assert second[key].extra.get("cached") is True
        # The cached and new samples are exactly what one uncached n=4 run makes.
        fresh = {(c.key, c.sample): c.text for c in backend.generate(larger)}
        assert fresh == {key: c.text for key, c in second.items()}
        cache.close()
    finally:
        torch.set_num_threads(threads)

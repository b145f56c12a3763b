"""Building generation requests and indexing completions, for the backend tests."""

from __future__ import annotations

from harness.records import Completion, GenerationRequest, Prompt, SamplingParams


def request(
    key: str, text: str, params: SamplingParams, samples: tuple[int, ...] | None = None
) -> GenerationRequest:
    indices = tuple(range(params.n)) if samples is None else samples
    return GenerationRequest(key, key, Prompt(text), params, indices)


def by_key(completions: list[Completion]) -> dict[tuple[str, int], Completion]:
    return {(c.key, c.sample): c for c in completions}

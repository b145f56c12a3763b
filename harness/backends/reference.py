"""The `reference` model: answers each problem with the task's reference solution, so every
task must score 100% with it (a sanity check of data, prompts and execution)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.backends.base import ModelAPI
from harness.errors import HarnessError
from harness.records import Completion, GenerationRequest


class ReferenceBackend(ModelAPI):
    cacheable = False

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        for request in requests:
            if request.reference is None:
                raise HarnessError(f"{request.task_id}: the task has no reference solution")
            for sample in request.sample_indices:
                yield Completion(request.key, sample, request.reference, finish_reason="reference")

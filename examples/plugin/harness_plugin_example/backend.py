"""The ``constant`` backend: ``--model constant:TEXT`` answers every prompt with TEXT."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from harness.backends.base import ModelAPI
from harness.records import Completion, GenerationRequest


class ConstantBackend(ModelAPI):
    """A model that always says the same thing (``spec.model`` is the text after the colon)."""

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        for request in requests:
            for sample in request.sample_indices:
                yield Completion(request.key, sample, self.spec.model, finish_reason="stop")

"""Records passed between pipeline stages: task -> prompts -> backend -> completions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Prompt:
    """What is sent to a model: plain text for completion models, messages for chat models.

    ``text`` is always set; ``messages`` (``[{"role": ..., "content": ...}]``) is set by tasks
    that have a natural chat form. A chat backend given no messages sends ``text`` as one
    user message.
    """

    text: str
    messages: tuple[Mapping[str, str], ...] | None = None


@dataclass(frozen=True)
class SamplingParams:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    seed: int = 0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenerationRequest:
    """Generate the samples ``sample_indices`` (a subset of ``range(params.n)``) for one prompt.

    Sample ``i`` must be reproducible on its own: backends derive its seed from
    ``params.seed`` and ``i``, so a resumed run or a run with a larger n gets the same
    first samples.
    """

    key: str  # unique problem key within the run
    task_id: str
    prompt: Prompt
    params: SamplingParams
    sample_indices: tuple[int, ...]
    reference: str | None = None  # the task's reference completion (for the `reference` backend)


@dataclass(frozen=True)
class Completion:
    key: str
    sample: int
    text: str  # raw generated text, prompt excluded
    finish_reason: str | None = None  # "stop", "length", "reference"
    num_tokens: int | None = None
    prompt_truncated: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

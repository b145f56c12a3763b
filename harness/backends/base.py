"""The model interface: one abstract method turns a batch of requests into completions."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from harness.backends.spec import ModelSpec
from harness.records import Completion, GenerationRequest


@dataclass
class BackendContext:
    """Run-level facts a backend may need besides its spec."""

    normalize_task_id: Callable[[Any], str] = str
    # Maps one samples-file line to a problem key (the task's ``sample_key``).
    sample_key: Callable[[Mapping[str, Any]], str | None] = lambda record: (
        str(record["task_id"]) if "task_id" in record else None
    )
    cache_dir: str | None = None
    batch_size: int | None = None
    base_url: str | None = None
    show_progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


class ModelAPI(ABC):
    """A generation backend. Subclasses implement :meth:`generate`; the rest is optional."""

    # Whether completions may be kept in the generation cache (not for backends that only
    # echo data the harness already has, such as `reference`).
    cacheable: ClassVar[bool] = True

    def __init__(self, spec: ModelSpec, context: BackendContext) -> None:
        self.spec = spec
        self.context = context

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> Iterator[Completion]:
        """Yield one completion per (request, sample index), in any order, as they are made."""

    def fingerprint(self) -> str:
        """Identifies the model weights/adapter/template: part of generation cache keys."""
        return self.spec.fingerprint()

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release model memory, engines or connections."""

    def __enter__(self) -> ModelAPI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

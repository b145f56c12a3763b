"""What one run covers, decided before any stage starts. A leaf module: the stages import it,
it imports none of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.backends.spec import ModelSpec
from harness.records import SamplingParams
from harness.tasks import Problem, Task

# completion: prompt + completion, as completion models are scored; chat: the answer is
# extracted into a whole program; samples: a samples file, scored as given (or sanitized).
Mode = Literal["completion", "chat", "samples"]


@dataclass
class RunPlan:
    task: Task
    model_name: str
    spec: ModelSpec | None  # None when the samples come from a file
    problems: list[Problem]
    samples_per_problem: dict[str, int]
    params: SamplingParams
    dataset_sha256: str
    config_hash: str
    run_dir: Path
    mode: Mode = "completion"
    k: list[int] = field(default_factory=list)
    k_explicit: bool = False
    notes: list[str] = field(default_factory=list)
    model_fingerprint: str = ""

    @property
    def total_samples(self) -> int:
        return sum(self.samples_per_problem.values())

    def sample_ids(self) -> list[tuple[str, int]]:
        return [(key, i) for key, n in self.samples_per_problem.items() for i in range(n)]

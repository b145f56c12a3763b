"""The reference-based scorer interface (CodeBLEU, BLEU, chrF, ROUGE-L, ...)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar


@dataclass
class ScoreResult:
    """Scores in percent (0-100). ``metrics`` holds the corpus score under the scorer's name
    plus any components (e.g. ``codebleu_ngram``); ``per_sample[i]`` the same keys for
    prediction ``i`` where the metric has a per-sample form."""

    metrics: dict[str, float]
    per_sample: list[dict[str, float]]
    ci95: dict[str, tuple[float, float]] = field(default_factory=dict)
    signature: str | None = None


class Scorer(ABC):
    name: ClassVar[str]

    @abstractmethod
    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        lang: str = "python",
    ) -> ScoreResult:
        """Score predictions[i] against the references[i] (one or more texts)."""

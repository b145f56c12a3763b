"""The ``exact_match`` scorer: the percentage of predictions equal to one of their references
(after stripping surrounding whitespace)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from harness.metrics.base import Scorer, ScoreResult
from harness.metrics.bootstrap import bootstrap_mean_ci


class ExactMatch(Scorer):
    name: ClassVar[str] = "exact_match"

    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        lang: str = "python",
    ) -> ScoreResult:
        values = [
            100.0 if prediction.strip() in {r.strip() for r in refs} else 0.0
            for prediction, refs in zip(predictions, references, strict=True)
        ]
        mean = sum(values) / len(values) if values else 0.0
        return ScoreResult(
            metrics={self.name: mean},
            per_sample=[{self.name: value} for value in values],
            ci95={self.name: bootstrap_mean_ci(values)} if values else {},
        )

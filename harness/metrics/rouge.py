"""ROUGE-L through rouge-score: F-measure of the longest common subsequence.

Sentence score: ``RougeScorer(["rougeL"]).score_multi`` (the best reference by F-measure
when there are several). Corpus score: the mean of the sentence scores (rouge-score has no
corpus aggregation other than averaging), with a bootstrap interval of that mean.
rouge-score's tokenizer lowercases and keeps only ASCII letters and digits, so punctuation
and non-Latin text do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata
from typing import ClassVar

from harness.metrics.base import Scorer, ScoreResult
from harness.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_ci,
    check_corpus,
    row_wise,
)


class RougeLScorer(Scorer):
    name: ClassVar[str] = "rouge_l"

    def __init__(
        self,
        *,
        use_stemmer: bool = False,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
    ) -> None:
        self.use_stemmer = use_stemmer
        self.resamples = resamples
        self.seed = seed

    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        lang: str = "python",
    ) -> ScoreResult:
        from rouge_score.rouge_scorer import RougeScorer

        check_corpus(predictions, references)
        scorer = RougeScorer(["rougeL"], use_stemmer=self.use_stemmer)
        scores = [
            100.0 * scorer.score_multi(list(refs), prediction)["rougeL"].fmeasure
            for prediction, refs in zip(predictions, references, strict=True)
        ]

        def mean(sums: list[float]) -> dict[str, float]:
            return {self.name: sums[0] / sums[1]}

        stats = [[value, 1.0] for value in scores]
        return ScoreResult(
            metrics={self.name: sum(scores) / len(scores)},
            per_sample=[{self.name: value} for value in scores],
            ci95=bootstrap_ci(stats, row_wise(mean), self.resamples, self.seed),
            signature=self.signature(),
        )

    def signature(self) -> str:
        return "|".join(
            [
                f"rouge-score:{metadata.version('rouge-score')}",
                "rougeL",
                "fmeasure",
                f"stemmer:{'yes' if self.use_stemmer else 'no'}",
                "multi-ref:max",
                "corpus:mean",
            ]
        )

"""BLEU and chrF through sacrebleu: corpus scores with signatures, sentence scores, bootstrap.

Each sentence is reduced once to sacrebleu's own sufficient statistics
(``_extract_corpus_statistics``); the corpus score, every bootstrap resample and the
sentence scores are computed from them with sacrebleu's ``_compute_score_from_stats``,
exactly as ``sacrebleu.corpus_bleu``/``corpus_chrf`` and sacrebleu's own ``--confidence``
bootstrap do. Sentence BLEU uses ``effective_order=True`` (sacrebleu's recommendation for
sentence-level BLEU); the corpus signature is the one recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import HarnessError
from harness.metrics.base import Scorer, ScoreResult
from harness.metrics.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_ci,
    check_corpus,
    row_wise,
)

if TYPE_CHECKING:
    from sacrebleu.metrics.base import Metric


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[Any]]:
    """sacrebleu's layout: stream j holds every sentence's j-th reference (None if absent)."""
    width = max(len(refs) for refs in references)
    return [[refs[j] if j < len(refs) else None for refs in references] for j in range(width)]


def percent(score: float) -> float:
    """sacrebleu's score without float noise above 100 (identical texts give 100.00000000000004)."""
    return min(100.0, float(score))


class SacreScorer(Scorer):
    """A sacrebleu metric scored from per-sentence sufficient statistics."""

    name: ClassVar[str]

    def __init__(self, *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> None:
        self.resamples = resamples
        self.seed = seed

    def corpus_metric(self) -> Metric:
        raise NotImplementedError

    def sentence_metric(self) -> Metric:
        return self.corpus_metric()

    def score(
        self,
        predictions: Sequence[str],
        references: Sequence[Sequence[str]],
        lang: str = "python",
    ) -> ScoreResult:
        check_corpus(predictions, references)
        corpus = self.corpus_metric()
        sentence = self.sentence_metric()
        try:
            stats: list[list[Any]] = corpus._extract_corpus_statistics(
                list(predictions), reference_streams(references)
            )
        except (TypeError, ValueError) as exc:  # e.g. a non-string entry
            raise HarnessError(f"{self.name}: cannot score these texts: {exc}") from exc

        def corpus_score(sums: list[float]) -> dict[str, float]:
            counts = [round(value) for value in sums]
            return {self.name: percent(corpus._compute_score_from_stats(counts).score)}

        return ScoreResult(
            metrics=corpus_score([sum(column) for column in zip(*stats, strict=True)]),
            per_sample=[
                {self.name: percent(sentence._compute_score_from_stats(list(row)).score)}
                for row in stats
            ],
            ci95=bootstrap_ci(stats, row_wise(corpus_score), self.resamples, self.seed),
            signature=corpus.get_signature().format(),
        )


class BLEUScorer(SacreScorer):
    """sacrebleu BLEU (default: 13a tokenization, exp smoothing, mixed case)."""

    name: ClassVar[str] = "bleu"

    def __init__(
        self,
        *,
        tokenize: str | None = None,
        lowercase: bool = False,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(resamples=resamples, seed=seed)
        self.tokenize = tokenize
        self.lowercase = lowercase
        self.corpus_metric()  # an unknown tokenizer is an error now, not after generation

    def _bleu(self, effective_order: bool) -> Metric:
        from sacrebleu.metrics import BLEU

        try:
            return BLEU(
                tokenize=self.tokenize,
                lowercase=self.lowercase,
                effective_order=effective_order,
            )
        except (AssertionError, KeyError, RuntimeError) as exc:
            raise HarnessError(f"bleu: unusable tokenize={self.tokenize!r}: {exc}") from exc

    def corpus_metric(self) -> Metric:
        return self._bleu(effective_order=False)

    def sentence_metric(self) -> Metric:
        return self._bleu(effective_order=True)


class ChrFScorer(SacreScorer):
    """sacrebleu chrF (character 6-grams, beta 2); ``word_order=2`` gives chrF++."""

    name: ClassVar[str] = "chrf"

    def __init__(
        self,
        *,
        word_order: int = 0,
        lowercase: bool = False,
        resamples: int = DEFAULT_RESAMPLES,
        seed: int = DEFAULT_SEED,
    ) -> None:
        super().__init__(resamples=resamples, seed=seed)
        self.word_order = word_order
        self.lowercase = lowercase
        self.corpus_metric()

    def corpus_metric(self) -> Metric:
        from sacrebleu.metrics import CHRF

        try:
            return CHRF(word_order=self.word_order, lowercase=self.lowercase)
        except (AssertionError, ValueError) as exc:
            raise HarnessError(f"chrf: unusable word_order={self.word_order!r}: {exc}") from exc

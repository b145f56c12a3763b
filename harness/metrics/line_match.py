"""CodeXGLUE line-completion scores: exact match and edit similarity.

As CodeXGLUE's ``evaluator.py`` for line-level completion computes them: exact match
compares the whitespace-split tokens of the stripped prediction and reference
(``pred.split() == gt.split()``); edit similarity is ``fuzz.ratio(pred, gt)``, the Indel
similarity ``100 * (1 - indel_distance / (len(a) + len(b)))`` of the stripped texts
(fuzzywuzzy with python-Levenshtein, and rapidfuzz, compute this; CodeXGLUE rounds each
sample to an integer, here it is kept exact). With several references a prediction gets its
best. Corpus score: the mean over samples, with a bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from harness.metrics.base import Scorer, ScoreResult
from harness.metrics.bootstrap import bootstrap_mean_ci, check_corpus


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (Hyyrö's bit-parallel
    algorithm on Python integers: one big-integer step per character of ``a``)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for position, char in enumerate(b):
        masks[char] = masks.get(char, 0) | (1 << position)
    full = (1 << len(b)) - 1
    row = full
    for char in a:
        matches = row & masks.get(char, 0)
        row = ((row + matches) | (row - matches)) & full
    return len(b) - row.bit_count()


def edit_similarity(prediction: str, reference: str) -> float:
    """``fuzz.ratio`` of the stripped texts, 0-100 (100 for two empty texts)."""
    a, b = prediction.strip(), reference.strip()
    if not a and not b:
        return 100.0
    return 100.0 * 2 * lcs_length(a, b) / (len(a) + len(b))


def exact_match(prediction: str, reference: str) -> bool:
    return prediction.split() == reference.split()


class _PerSampleScorer(Scorer):
    def sample_score(self, prediction: str, reference: str) -> float:
        raise NotImplementedError

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]],
              lang: str = "python") -> ScoreResult:
        check_corpus(predictions, references)
        values = [max(self.sample_score(p, r) for r in refs)
                  for p, refs in zip(predictions, references, strict=True)]
        return ScoreResult(metrics={self.name: sum(values) / len(values)},
                           per_sample=[{self.name: v} for v in values],
                           ci95={self.name: bootstrap_mean_ci(values)},
                           signature=self.signature)

    signature: ClassVar[str] = ""


class ExactMatchScorer(_PerSampleScorer):
    name: ClassVar[str] = "exact_match"
    signature: ClassVar[str] = "codexglue-line|exact_match|split-tokens|multi-ref:max"

    def sample_score(self, prediction: str, reference: str) -> float:
        return 100.0 if exact_match(prediction, reference) else 0.0


class EditSimScorer(_PerSampleScorer):
    name: ClassVar[str] = "edit_sim"
    signature: ClassVar[str] = "codexglue-line|edit_sim|indel-ratio|strip|multi-ref:max"

    def sample_score(self, prediction: str, reference: str) -> float:
        return edit_similarity(prediction, reference)


__all__ = ["EditSimScorer", "ExactMatchScorer", "edit_similarity", "exact_match", "lcs_length"]

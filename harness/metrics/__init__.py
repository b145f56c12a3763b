"""Metrics: the pass@k estimator and reference-based scorers registered by name."""

from __future__ import annotations

from harness.metrics.base import Scorer, ScoreResult
from harness.registry import Registry

scorers: Registry[type[Scorer]] = Registry(
    "scorer",
    "harness.scorers",
    {
        "codebleu": "harness.metrics.codebleu:CodeBLEUScorer",
        "bleu": "harness.metrics.sacre:BLEUScorer",
        "chrf": "harness.metrics.sacre:ChrFScorer",
        "rouge_l": "harness.metrics.rouge:RougeLScorer",
        "exact_match": "harness.metrics.line_match:ExactMatchScorer",
        "edit_sim": "harness.metrics.line_match:EditSimScorer",
    },
)

__all__ = ["ScoreResult", "Scorer", "scorers"]

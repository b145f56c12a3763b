"""Statistics over per-problem results: bootstrap over problems, exact McNemar, Wilson.

Every bootstrap here resamples *problems* (the unit that was sampled from the space of
possible benchmark items), with a fixed seed so that the same inputs always give the same
interval; the resampling itself is harness.metrics.bootstrap's.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from harness.metrics.bootstrap import (
    REPORT_RESAMPLES,
    REPORT_SEED,
    bootstrap_means,
    percentile_interval,
)


def rng_for(label: str, seed: int = REPORT_SEED) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``label`` (e.g. the task name), so a
    task's interval is the same whether it is analysed alone or together with others."""
    return np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    label: str = "",
    level: float = 0.95,
    resamples: int = REPORT_RESAMPLES,
    seed: int = REPORT_SEED,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values`` (resampling the items)."""
    return percentile_interval(bootstrap_means(values, rng_for(label, seed), resamples), level)


def mcnemar_exact(flipped_to_pass: int, flipped_to_fail: int) -> float:
    """Two-sided exact McNemar p-value: a binomial(b + c, 1/2) test on the discordant pairs.

    p = min(1, 2 * P(X <= min(b, c))), computed with exact integer arithmetic.
    """
    if flipped_to_pass < 0 or flipped_to_fail < 0:
        raise ValueError("counts must be non-negative")
    discordant = flipped_to_pass + flipped_to_fail
    if discordant == 0:
        return 1.0
    smaller = min(flipped_to_pass, flipped_to_fail)
    tail = sum(math.comb(discordant, i) for i in range(smaller + 1))
    return min(1.0, 2 * tail / 2**discordant)


def sign_test_worse(flipped_to_pass: int, flipped_to_fail: int) -> float:
    """One-sided exact p-value that the second run is worse: P(X >= flipped_to_fail) for
    X ~ binomial(discordant, 1/2). The one-sided form of McNemar's test."""
    discordant = flipped_to_pass + flipped_to_fail
    if discordant == 0:
        return 1.0
    tail = sum(math.comb(discordant, i) for i in range(flipped_to_fail, discordant + 1))
    return min(1.0, tail / 2**discordant)


def wilson_interval(successes: int, total: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion, as fractions in [0, 1]."""
    if total <= 0:
        raise ValueError("total must be positive")
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    phat = successes / total
    denom = 1.0 + z * z / total
    centre = (phat + z * z / (2 * total)) / denom
    half = z * math.sqrt(phat * (1 - phat) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class PairedBootstrap:
    """Mean paired difference with its bootstrap draws (all in the values' unit)."""

    delta: float
    draws: np.ndarray

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        return percentile_interval(self.draws, level)

    def upper_bound(self, alpha: float) -> float:
        """One-sided (1 - alpha) upper confidence bound of the mean difference."""
        return float(np.quantile(self.draws, 1.0 - alpha))

    def lower_bound(self, alpha: float) -> float:
        """One-sided (1 - alpha) lower confidence bound of the mean difference."""
        return float(np.quantile(self.draws, alpha))


def paired_bootstrap(
    before: Sequence[float] | np.ndarray,
    after: Sequence[float] | np.ndarray,
    label: str = "",
    resamples: int = REPORT_RESAMPLES,
    seed: int = REPORT_SEED,
) -> PairedBootstrap:
    """Bootstrap of mean(after - before) resampling the paired items together."""
    diffs = np.asarray(after, dtype=np.float64) - np.asarray(before, dtype=np.float64)
    draws = bootstrap_means(diffs, rng_for(label, seed), resamples)
    return PairedBootstrap(float(diffs.mean()), draws)


def pooled_bootstrap(parts: Sequence[tuple[int, PairedBootstrap]]) -> PairedBootstrap:
    """Combine per-stratum bootstraps (size, result) into the bootstrap of the pooled mean:
    a stratified bootstrap that resamples problems within each task."""
    total = sum(size for size, _ in parts)
    if total == 0:
        raise ValueError("nothing to pool")
    delta = sum(size * part.delta for size, part in parts) / total
    draws = sum(size * part.draws for size, part in parts) / total
    return PairedBootstrap(float(delta), np.asarray(draws, dtype=np.float64))

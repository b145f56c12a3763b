"""The corpus bootstrap: resampling sentence indices, summed statistics, percentile CIs."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics.bootstrap import (
    bootstrap_ci,
    resample_counts,
    resampled_sums,
    row_wise,
)


def test_counts_are_index_resamples_with_replacement() -> None:
    n, resamples, seed = 7, 50, 11
    counts = np.concatenate(list(resample_counts(n, resamples, seed)))
    assert counts.shape == (resamples, n)
    assert (counts.sum(axis=1) == n).all()
    # The same draws as resampling indices directly with the same generator.
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    direct = np.stack([np.bincount(row, minlength=n) for row in indices])
    assert (counts == direct).all()


def test_chunked_sums_equal_direct_resampling(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.metrics.bootstrap as bootstrap

    stats = np.random.default_rng(0).random((13, 3))
    whole = resampled_sums(stats, 40, seed=5)
    monkeypatch.setattr(bootstrap, "_MAX_CELLS_PER_CHUNK", 13 * 3)  # 3 resamples per chunk
    chunked = resampled_sums(stats, 40, seed=5)
    assert np.allclose(whole, chunked)
    indices = np.random.default_rng(5).integers(0, 13, size=(40, 13))
    assert np.allclose(whole, stats[indices].sum(axis=1))


def test_mean_interval_matches_a_direct_bootstrap() -> None:
    values = np.random.default_rng(1).normal(50, 10, size=200)
    stats = np.stack([values, np.ones_like(values)], axis=1)
    ci = bootstrap_ci(stats, lambda s: {"mean": s[:, 0] / s[:, 1]}, resamples=1000, seed=2)
    indices = np.random.default_rng(2).integers(0, 200, size=(1000, 200))
    means = values[indices].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert ci["mean"] == (round(low, 4), round(high, 4))
    assert ci["mean"][0] < values.mean() < ci["mean"][1]


def test_ratio_of_sums_is_not_a_mean_of_ratios() -> None:
    # Corpus statistics are summed before dividing, as BLEU/chrF/CodeBLEU do.
    stats = [[1.0, 1.0], [0.0, 9.0]]
    score = row_wise(lambda row: {"ratio": row[0] / row[1]})
    ci = bootstrap_ci(stats, score, resamples=500, seed=0)
    assert ci["ratio"][0] == 0.0 and ci["ratio"][1] == 1.0
    assert score(np.array([[1.0, 10.0]]))["ratio"][0] == pytest.approx(0.1)


def test_no_resamples_no_interval() -> None:
    assert bootstrap_ci([[1.0]], lambda s: {"x": s[:, 0]}, resamples=0) == {}

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


def test_mean_interval_of_values_is_a_direct_percentile_bootstrap() -> None:
    from harness.metrics.bootstrap import bootstrap_mean_ci

    values = np.random.default_rng(4).normal(30, 5, size=120)
    indices = np.random.default_rng(7).integers(0, 120, size=(800, 120))
    low, high = np.percentile(values[indices].mean(axis=1), [2.5, 97.5])
    assert bootstrap_mean_ci(list(values), resamples=800, seed=7) == (round(low, 4),
                                                                      round(high, 4))
    assert np.isnan(bootstrap_mean_ci([])).all()


def test_chunked_means_equal_direct_means(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.metrics.bootstrap as bootstrap

    values = np.arange(17, dtype=float) ** 2
    whole = bootstrap.bootstrap_means(values, np.random.default_rng(3), 50)
    monkeypatch.setattr(bootstrap, "_MAX_CELLS_PER_CHUNK", 17 * 4)  # 4 resamples per chunk
    chunked = bootstrap.bootstrap_means(values, np.random.default_rng(3), 50)
    assert np.array_equal(whole, chunked)
    with pytest.raises(ValueError, match="empty"):
        bootstrap.bootstrap_means([], np.random.default_rng(0), 10)


def test_reports_use_the_same_bootstrap() -> None:
    from harness.metrics.bootstrap import REPORT_RESAMPLES, bootstrap_means, percentile_interval
    from harness.reports import stats

    values = [float((i * 37) % 101) for i in range(60)]
    draws = bootstrap_means(values, stats.rng_for("humaneval"), REPORT_RESAMPLES)
    assert stats.bootstrap_interval(values, label="humaneval") == percentile_interval(draws)
    paired = stats.paired_bootstrap([0.0] * 60, values, label="humaneval")
    assert np.array_equal(paired.draws, draws)


def test_wilson_interval_uses_the_exact_normal_quantile() -> None:
    from statistics import NormalDist

    from harness.reports import stats

    low, high = stats.wilson_interval(40, 100, level=0.9)
    z = NormalDist().inv_cdf(0.95)
    centre = (0.4 + z * z / 200) / (1 + z * z / 100)
    assert (low + high) / 2 == pytest.approx(centre, rel=1e-12)

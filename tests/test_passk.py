"""The unbiased pass@k estimator against exact rational arithmetic."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.metrics.passk import mean_pass_at_k, pass_at_k, usable_ks


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 200).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_matches_exact_arithmetic(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert pass_at_k(n, c, k) == pytest.approx(float(exact_pass_at_k(n, c, k)), abs=1e-12)


def test_edge_cases() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    assert pass_at_k(5, 1, 5) == 1.0  # n - c < k: some draw must contain the correct one


def test_needs_n_at_least_k() -> None:
    with pytest.raises(ValueError, match="at least 10 samples"):
        pass_at_k(5, 2, 10)
    assert usable_ks([1, 10, 100], 10) == [1, 10]
    assert usable_ks([1, 10, 100], 1) == [1]


def test_mean_over_problems_in_percent() -> None:
    assert mean_pass_at_k([1, 1, 1, 1], [1, 0, 1, 0], 1) == pytest.approx(50.0)
    assert mean_pass_at_k([10, 10], [10, 0], 10) == pytest.approx(50.0)


def test_large_n_is_stable() -> None:
    value = pass_at_k(1000, 3, 100)
    assert value == pytest.approx(float(exact_pass_at_k(1000, 3, 100)), rel=1e-12)


def test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="0 <= c <= n"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="k >= 1"):
        pass_at_k(5, 1, 0)


def test_huge_n_stays_exact() -> None:
    # Integer binomials: no overflow or cancellation where a float product would drift.
    assert pass_at_k(100_000, 1, 1) == pytest.approx(1e-5, rel=1e-12)
    assert pass_at_k(5000, 7, 2500) == pytest.approx(float(exact_pass_at_k(5000, 7, 2500)),
                                                     rel=1e-12)


def test_reports_estimate_pass_at_k_with_the_same_function() -> None:
    import harness.reports.loading as loading
    from harness.metrics import passk

    assert loading.pass_at_k is passk.pass_at_k

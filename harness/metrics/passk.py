"""The unbiased pass@k estimator (Chen et al., 2021) and its average over problems."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct)
    passes: 1 - C(n-c, k) / C(n, k), computed as a stable product. Needs n >= k."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> float:
    """pass@k in percent, averaged over problems."""
    if not ns:
        raise ValueError("no problems to average over")
    return 100.0 * float(np.mean([pass_at_k(n, c, k) for n, c in zip(ns, cs, strict=True)]))


def usable_ks(requested: Sequence[int], n_min: int) -> list[int]:
    """The requested k values that every problem's sample count allows."""
    return sorted({k for k in requested if 1 <= k <= n_min})

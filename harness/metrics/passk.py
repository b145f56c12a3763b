"""The unbiased pass@k estimator (Chen et al., 2021) and its average over problems: the one
implementation that run metrics and reports share."""

from __future__ import annotations

import math
from collections.abc import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c correct)
    passes: 1 - C(n-c, k) / C(n, k), a fraction in [0, 1]. Needs 1 <= k <= n.

    The binomials are exact integers and their ratio is correctly rounded (Python's int
    division), so the estimate is exact to float precision for any n.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if k < 1:
        raise ValueError(f"pass@k needs k >= 1, got k={k}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def mean_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> float:
    """pass@k in percent, averaged over problems."""
    if not ns:
        raise ValueError("no problems to average over")
    values = [pass_at_k(n, c, k) for n, c in zip(ns, cs, strict=True)]
    return 100.0 * math.fsum(values) / len(values)


def usable_ks(requested: Sequence[int], n_min: int) -> list[int]:
    """The requested k values that every problem's sample count allows."""
    return sorted({k for k in requested if 1 <= k <= n_min})

"""The bootstrap: every confidence interval of the harness is computed here.

Resample ``b`` draws ``n`` indices uniformly with replacement from one numpy generator; the
draws depend only on ``(n, resamples, generator)``, so two systems scored on the same items
see the same resamples (paired). Draws are made in chunks to bound memory; chunking does
not change them. Intervals are percentile intervals (2.5th and 97.5th percentiles for 95%).

Two uses:

* means of per-item values (pass@k over problems, report deltas): :func:`bootstrap_means`,
  :func:`bootstrap_mean_ci`;
* corpus metrics (BLEU, chrF, CodeBLEU) that are a function of the *sum* of per-sample
  statistics: a resample only needs how often each sample was drawn, ``sums = counts @
  stats``, and no text is re-scored (:func:`bootstrap_ci`).

Defaults: :data:`DEFAULT_RESAMPLES` and :data:`DEFAULT_SEED` for metrics.json and
``harness score``; :data:`REPORT_RESAMPLES` and :data:`REPORT_SEED` for reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    Array = NDArray[np.float64]

DEFAULT_RESAMPLES = 2000
DEFAULT_SEED = 0
# Reports (compare, gate, leaderboard) read one-sided bounds in the tails, which need more
# resamples; their seed is fixed so that a report is reproducible.
REPORT_RESAMPLES = 10_000
REPORT_SEED = 20_240_521
_MAX_CELLS_PER_CHUNK = 2_000_000  # bounds the (resamples x n) index matrix in memory

# Maps an (m, k) matrix of summed statistics to named (m,) arrays of scores.
ScoreFunction = Callable[["Array"], Mapping[str, "Array"]]


def check_corpus(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> None:
    """The shape every corpus-level score needs: one or more references per prediction."""
    if isinstance(predictions, str) or isinstance(references, str):
        raise HarnessError("predictions and references must be sequences of texts, not a text")
    if len(predictions) != len(references):
        raise HarnessError(
            f"{len(predictions)} predictions but {len(references)} reference entries"
        )
    if not predictions:
        raise HarnessError("nothing to score: no predictions")
    for index, refs in enumerate(references):
        if isinstance(refs, str) or not refs:
            raise HarnessError(f"references[{index}] must be a non-empty list of texts")


def resample_indices(n: int, resamples: int, rng: np.random.Generator) -> Iterator[Any]:
    """Yield chunks of a (resamples, n) matrix of indices drawn with replacement."""
    chunk = max(1, _MAX_CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, resamples - start), n))


def resample_counts(n: int, resamples: int, seed: int) -> Iterator[Array]:
    """Yield chunks of a (resamples, n) matrix: how often each sample is drawn."""
    import numpy as np

    for draws in resample_indices(n, resamples, np.random.default_rng(seed)):
        rows = len(draws)
        flat = (draws + np.arange(rows)[:, None] * n).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def resampled_sums(stats: Any, resamples: int, seed: int) -> Array:
    """The (resamples, k) sums of (n, k) per-sample statistics over bootstrap resamples."""
    import numpy as np

    matrix = np.asarray(stats, dtype=np.float64)
    parts = [counts @ matrix for counts in resample_counts(len(matrix), resamples, seed)]
    return np.concatenate(parts) if parts else np.zeros((0, matrix.shape[1]))


def bootstrap_means(values: Any, rng: np.random.Generator, resamples: int) -> Array:
    """Means of ``resamples`` resamples (with replacement) of ``values``; shape (resamples,)."""
    import numpy as np

    data = np.asarray(values, dtype=np.float64)
    if data.shape[0] == 0:
        raise ValueError("cannot bootstrap an empty sample")
    parts = [data[draws].mean(axis=1) for draws in resample_indices(len(data), resamples, rng)]
    return np.concatenate(parts) if parts else np.zeros(0)


def percentile_interval(draws: Any, level: float = 0.95) -> tuple[float, float]:
    """Two-sided percentile interval of bootstrap draws (unrounded)."""
    import numpy as np

    tail = (1.0 - level) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return float(low), float(high)


def _rounded(interval: tuple[float, float]) -> tuple[float, float]:
    return (round(interval[0], 4), round(interval[1], 4))


def bootstrap_mean_ci(
    values: Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` (resampling items), rounded to 4
    decimals; (nan, nan) for no values."""
    import numpy as np

    if len(values) == 0:
        return (float("nan"), float("nan"))
    draws = bootstrap_means(values, np.random.default_rng(seed), resamples)
    return _rounded(percentile_interval(draws, level))


def bootstrap_ci(
    stats: Any,
    score: ScoreFunction,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals (rounded to 4 decimals) of every score ``score`` returns for
    resampled sums of per-sample ``stats``; {} if resamples < 1."""
    if resamples < 1 or len(stats) == 0:
        return {}
    scores = score(resampled_sums(stats, resamples, seed))
    return {name: _rounded(percentile_interval(values, level)) for name, values in scores.items()}


def row_wise(function: Callable[[list[float]], Mapping[str, float]]) -> ScoreFunction:
    """Adapt a score function of one row of summed statistics to a ScoreFunction."""

    def score(sums: Array) -> dict[str, Array]:
        import numpy as np

        rows = [function(row.tolist()) for row in sums]
        names = list(rows[0]) if rows else []
        return {name: np.array([row[name] for row in rows]) for name in names}

    return score

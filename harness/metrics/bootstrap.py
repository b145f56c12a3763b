"""Corpus-level bootstrap confidence intervals from per-sample sufficient statistics.

A corpus metric (BLEU, chrF, CodeBLEU, a mean) is a function of the *sum* of per-sample
statistics. Resampling samples with replacement therefore only needs, per resample, the
count of times each sample was drawn: ``sums = counts @ stats``. No text is re-scored.

Resample ``b`` draws ``n`` indices uniformly with replacement from
``numpy.random.default_rng(seed)``; the draws depend only on ``(n, resamples, seed)``, so
two systems scored on the same test set see the same resamples (paired). The interval is
the percentile interval (2.5th and 97.5th percentiles of the resampled corpus scores).
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
_MAX_CELLS_PER_CHUNK = 2_000_000  # bounds the (resamples x n) count matrix in memory

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


def resample_counts(n: int, resamples: int, seed: int) -> Iterator[Array]:
    """Yield chunks of a (resamples, n) matrix: how often each sample is drawn."""
    import numpy as np

    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS_PER_CHUNK // max(n, 1))
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        draws = rng.integers(0, n, size=(rows, n))
        flat = (draws + np.arange(rows)[:, None] * n).ravel()
        yield np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)


def resampled_sums(stats: Any, resamples: int, seed: int) -> Array:
    """The (resamples, k) sums of (n, k) per-sample statistics over bootstrap resamples."""
    import numpy as np

    matrix = np.asarray(stats, dtype=np.float64)
    parts = [counts @ matrix for counts in resample_counts(len(matrix), resamples, seed)]
    return np.concatenate(parts) if parts else np.zeros((0, matrix.shape[1]))


def percentile_interval(values: Array, level: float = 0.95) -> tuple[float, float]:
    import numpy as np

    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return (round(float(low), 4), round(float(high), 4))


def bootstrap_ci(
    stats: Any,
    score: ScoreFunction,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every score ``score`` returns; {} if resamples < 1."""
    if resamples < 1 or len(stats) == 0:
        return {}
    scores = score(resampled_sums(stats, resamples, seed))
    return {name: percentile_interval(values, level) for name, values in scores.items()}


def row_wise(function: Callable[[list[float]], Mapping[str, float]]) -> ScoreFunction:
    """Adapt a score function of one row of summed statistics to a ScoreFunction."""

    def score(sums: Array) -> dict[str, Array]:
        import numpy as np

        rows = [function(row.tolist()) for row in sums]
        names = list(rows[0]) if rows else []
        return {name: np.array([row[name] for row in rows]) for name in names}

    return score

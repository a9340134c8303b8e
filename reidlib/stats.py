"""Statistics for the cpu-profile tables: seed spread, evaluation noise, paired Δ with a 95 % CI, verdicts.

A cpu-profile number is a mean over seeds; a difference between two rows of a table (a row against
its table's reference row) is only read as an effect when its confidence interval excludes zero.

Two sources of noise, reported separately:

* **seed noise** — what changes when the same configuration is trained again with another seed
  (initial weights, batch order, augmentation): the sample sd over seeds of a metric (:func:`spread`);
* **evaluation noise** — what would change with another draw of test queries from the same
  distribution: the bootstrap sd of the metric over resampled queries (:func:`evaluation_sd`), about
  ``sqrt(p (1 - p) / n)`` for rank-1 over ``n`` queries.

The Δ of a row against the reference row (:func:`paired_delta`) pairs the two rows *by seed* (seed s
of the row with seed s of the reference: same batch order and augmentation stream) and *by query*
(the same test images), and its CI comes from a two-level (hierarchical) percentile bootstrap:
each replicate draws the seed pairs with replacement, then the queries with replacement (one draw of
query indices shared by every seed pair, since the queries are the same images), and averages the
per-query differences. With three seeds the seed level can only take ten distinct multisets, so the
CI is approximate; it is still wider than a query-only bootstrap, which would ignore seed noise.
Our choice where the issue leaves it open: percentile intervals, 2,000 replicates, a fixed generator
seed (the same inputs always give the same CI).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DeltaCI", "spread", "evaluation_sd", "paired_delta", "delta_difference", "seed_delta", "verdict", "VERDICTS", "MIN_CLAIM"]

#: The three verdicts a paper claim can get from a CI (issue 11): the CI excludes 0 on the paper's
#: side, on the other side, or contains 0.
VERDICTS = ("holds", "contradicted", "can't tell")


@dataclass(frozen=True)
class DeltaCI:
    """A paired difference (row − reference), in the metric's units, with its CI."""

    delta: float
    low: float
    high: float
    level: float = 0.95

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def __str__(self) -> str:
        return self.format(1)

    def format(self, digits: int = 1) -> str:
        """``"+1.2 [+0.3, +2.1]"`` with ``digits`` decimals."""
        return f"{self.delta:+.{digits}f} [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"


def spread(values) -> tuple[float, float]:
    """(mean, sample sd with ddof=1) of per-seed values; sd is nan for a single seed."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("spread: no values")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan")


def _as_seed_query(name: str, a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] == 0:
        raise ValueError(f"{name}: expected per-query values as (seeds x queries), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return a


def evaluation_sd(per_query, n_boot: int = 2000, seed: int = 0) -> float:
    """Bootstrap sd (over resampled queries) of the mean of ``per_query`` (one run's per-query
    values, e.g. rank-1 hits in {0, 1} or average precisions)."""
    v = _as_seed_query("per_query", per_query)
    if v.shape[0] != 1:
        raise ValueError(f"evaluation_sd: one run's per-query values expected, got {v.shape[0]} rows")
    n = v.shape[1]
    counts = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    return float((counts @ v[0] / n).std(ddof=1))


def paired_delta(reference, row, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> DeltaCI:
    """Δ = mean(row) − mean(reference) with a paired hierarchical bootstrap CI (see the module doc).

    ``reference`` and ``row`` are ``seeds x queries`` arrays of per-query values (same seeds in the same
    order, same queries in the same order; a 1-D array is one seed). Multiply by 100 beforehand for
    percentage points.
    """
    ref, alt = _as_seed_query("reference", reference), _as_seed_query("row", row)
    if ref.shape != alt.shape:
        raise ValueError(f"paired_delta: reference {ref.shape} and row {alt.shape} must pair seed by seed "
                         "and query by query (same shape)")
    if not 0 < level < 1:
        raise ValueError(f"paired_delta: level must be in (0, 1), got {level}")
    diff = alt - ref  # seeds x queries
    s, n = diff.shape
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)  # query draw per replicate
    per_seed = counts @ diff.T / n  # replicates x seeds
    pick = rng.integers(0, s, size=(n_boot, s))  # seed-pair draw per replicate
    reps = np.take_along_axis(per_seed, pick, axis=1).mean(1)
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return DeltaCI(float(diff.mean()), float(lo), float(hi), level)


def delta_difference(reference_a, row_a, reference_b, row_b, level: float = 0.95, n_boot: int = 2000,
                     seed: int = 0) -> DeltaCI:
    """Δ_a − Δ_b: how much more ``row`` changes against ``reference`` on test set a than on test set b
    (mmps Fig. 4: does a large λ cost more on the training domain than on the others?), with a CI.

    Each argument is a ``seeds x queries`` array as in :func:`paired_delta`; a and b are the same
    trained models (same seeds, same order) evaluated on two test sets, so their query counts may
    differ. The bootstrap extends :func:`paired_delta`'s: each replicate draws the seed pairs once,
    shared by both test sets (a seed is one pair of trained models, seen on both), and the queries of
    a and of b independently (different images).
    """
    ref_a, alt_a = _as_seed_query("reference_a", reference_a), _as_seed_query("row_a", row_a)
    ref_b, alt_b = _as_seed_query("reference_b", reference_b), _as_seed_query("row_b", row_b)
    if ref_a.shape != alt_a.shape or ref_b.shape != alt_b.shape or ref_a.shape[0] != ref_b.shape[0]:
        raise ValueError(f"delta_difference: test set a {ref_a.shape} / {alt_a.shape} and b {ref_b.shape} / "
                         f"{alt_b.shape} must pair query by query within a set and seed by seed across sets")
    if not 0 < level < 1:
        raise ValueError(f"delta_difference: level must be in (0, 1), got {level}")
    da, db = alt_a - ref_a, alt_b - ref_b
    s, na, nb = da.shape[0], da.shape[1], db.shape[1]
    rng = np.random.default_rng(seed)
    ca = rng.multinomial(na, np.full(na, 1.0 / na), size=n_boot)
    cb = rng.multinomial(nb, np.full(nb, 1.0 / nb), size=n_boot)
    per_seed = ca @ da.T / na - cb @ db.T / nb  # replicates x seeds
    pick = rng.integers(0, s, size=(n_boot, s))
    reps = np.take_along_axis(per_seed, pick, axis=1).mean(1)
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return DeltaCI(float(da.mean() - db.mean()), float(lo), float(hi), level)


def seed_delta(reference, row, level: float = 0.95) -> DeltaCI:
    """Δ = mean(row) − mean(reference) of one value per seed, paired by seed (same order), with a
    Student-t interval on the per-seed differences: ``mean(d) ± t_{(1+level)/2, n−1} · sd(d) / √n``.

    For a quantity measured once per run (no test queries to resample, e.g. the angles between a
    classifier's weight vectors). With n = 3 seeds t = 4.30, so the interval is wide; with one seed
    the bounds are NaN (no spread to estimate) and :func:`verdict` says "can't tell"."""
    from scipy.stats import t as student_t

    ref = np.asarray(reference, dtype=np.float64).ravel()
    alt = np.asarray(row, dtype=np.float64).ravel()
    if ref.shape != alt.shape or ref.size == 0:
        raise ValueError(f"seed_delta: reference ({ref.size} values) and row ({alt.size}) must pair seed by seed")
    if not np.isfinite(ref).all() or not np.isfinite(alt).all():
        raise ValueError("seed_delta: contains NaN or infinite values")
    if not 0 < level < 1:
        raise ValueError(f"seed_delta: level must be in (0, 1), got {level}")
    d = alt - ref
    if d.size < 2:
        return DeltaCI(float(d.mean()), float("nan"), float("nan"), level)
    half = float(student_t.ppf((1 + level) / 2, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    return DeltaCI(float(d.mean()), float(d.mean()) - half, float(d.mean()) + half, level)


#: The smallest paper Δ (percentage points) read as a directional claim: the papers report one run per
#: row, so a change below half a point (amfl Table I (b) +0.3, (d) −0.1) is "no change", not a claim.
MIN_CLAIM = 0.5


def verdict(ci: DeltaCI, paper_delta: float | None, min_claim: float = MIN_CLAIM) -> str | None:
    """A paper claim's verdict from our CI alone: "holds" when the CI excludes 0 on the side of the
    paper's Δ, "contradicted" when it excludes 0 on the other side, "can't tell" when it contains 0.
    ``None`` when the paper makes no directional claim (no number, or |Δ| < ``min_claim``)."""
    if paper_delta is None or not np.isfinite(paper_delta) or abs(paper_delta) < min_claim:
        return None
    if not ci.excludes_zero:
        return VERDICTS[2]
    return VERDICTS[0] if (ci.low > 0) == (paper_delta > 0) else VERDICTS[1]

"""reidlib.stats against independent references: normal theory, exact small distributions, truth tables."""

import math

import numpy as np
import pytest

from reidlib.stats import DeltaCI, delta_difference, evaluation_sd, paired_delta, seed_delta, spread, verdict


def test_spread_is_mean_and_sample_sd():
    assert spread([1.0, 2.0, 4.0]) == pytest.approx((7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2
                                                                         + (4 - 7 / 3) ** 2) / 2)))
    assert math.isnan(spread([3.0])[1])


def test_evaluation_sd_matches_binomial_formula():
    rng = np.random.default_rng(1)
    hits = (rng.random(3000) < 0.7).astype(float)
    p = hits.mean()
    assert evaluation_sd(hits) == pytest.approx(math.sqrt(p * (1 - p) / hits.size), rel=0.08)


def test_one_seed_ci_matches_normal_theory():
    rng = np.random.default_rng(2)
    ref = (rng.random(4000) < 0.6).astype(float)
    row = np.where(rng.random(4000) < 0.1, 1 - ref, ref)  # 10 % of the queries flip
    d = row - ref
    ci = paired_delta(ref, row)
    half = 1.96 * d.std(ddof=1) / math.sqrt(d.size)
    assert ci.delta == pytest.approx(d.mean(), abs=1e-12)
    assert ci.low == pytest.approx(d.mean() - half, abs=0.15 * half)
    assert ci.high == pytest.approx(d.mean() + half, abs=0.15 * half)


def test_seed_level_is_resampled():
    """No query noise, seed differences -1, +1, +3: the replicate mean is the mean of three seeds drawn
    with replacement, so P(all three = -1) = P(all three = +3) = 1/27 > 2.5 %: the 95 % CI is [-1, 3]."""
    ref = np.zeros((3, 50))
    row = np.array([-1.0, 1.0, 3.0])[:, None] + ref
    ci = paired_delta(ref, row)
    assert (ci.delta, ci.low, ci.high) == pytest.approx((1.0, -1.0, 3.0))
    assert not ci.excludes_zero


def test_identical_rows_and_determinism():
    rng = np.random.default_rng(3)
    a = rng.random((3, 100))
    ci = paired_delta(a, a)
    assert (ci.delta, ci.low, ci.high) == (0.0, 0.0, 0.0)
    b = a + rng.normal(0, 0.1, a.shape)
    assert paired_delta(a, b) == paired_delta(a, b)


def test_bad_shapes_named():
    with pytest.raises(ValueError, match="pair seed by seed"):
        paired_delta(np.zeros((3, 10)), np.zeros((2, 10)))
    with pytest.raises(ValueError, match="row: contains NaN"):
        paired_delta(np.zeros(4), np.array([0, 1, np.nan, 0]))


@pytest.mark.parametrize("low, high, paper, expected", [
    (0.5, 2.0, 1.0, "holds"),
    (0.5, 2.0, -1.0, "contradicted"),
    (-2.0, -0.5, -0.6, "holds"),
    (0.5, 2.0, 0.3, None),  # a paper Δ below MIN_CLAIM is no directional claim
    (-2.0, -0.5, 0.8, "contradicted"),
    (-0.5, 2.0, 1.0, "can't tell"),
    (0.5, 2.0, None, None),
    (0.5, 2.0, 0.0, None),
])
def test_verdict_truth_table(low, high, paper, expected):
    assert verdict(DeltaCI((low + high) / 2, low, high), paper) == expected


def test_seed_delta_is_a_t_interval_on_the_paired_differences():
    """Differences 1, 2, 3 (row − reference, per seed): mean 2, sd 1, t(0.975, 2) = 4.302652729911275."""
    ci = seed_delta([10.0, 20.0, 30.0], [11.0, 22.0, 33.0])
    half = 4.302652729911275 / math.sqrt(3)
    assert (ci.delta, ci.low, ci.high) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert not ci.excludes_zero and verdict(ci, 1.0) == "can't tell"
    ci = seed_delta([0.0, 0.0, 0.0, 0.0], [1.0, 1.1, 0.9, 1.0])  # t(0.975, 3) = 3.182446305284263
    sd = np.std([1.0, 1.1, 0.9, 1.0], ddof=1)
    assert ci.low == pytest.approx(1.0 - 3.182446305284263 * sd / 2) and verdict(ci, 1.0) == "holds"
    assert ci.format(2) == f"+1.00 [{ci.low:+.2f}, {ci.high:+.2f}]"


def test_seed_delta_one_seed_has_no_interval_and_bad_input_is_named():
    ci = seed_delta([1.0], [3.0])
    assert ci.delta == 2.0 and math.isnan(ci.low) and math.isnan(ci.high) and verdict(ci, 1.0) == "can't tell"
    with pytest.raises(ValueError, match="pair seed by seed"):
        seed_delta([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        seed_delta([1.0, np.nan], [1.0, 2.0])


def test_delta_difference_matches_normal_theory_for_independent_test_sets():
    """One seed, two test sets of different sizes: Δ_a − Δ_b with half-width 1.96·√(se_a² + se_b²)."""
    rng = np.random.default_rng(4)
    ref_a = (rng.random(3000) < 0.6).astype(float)
    row_a = np.where(rng.random(3000) < 0.1, 1 - ref_a, ref_a)
    ref_b = (rng.random(2000) < 0.3).astype(float)
    row_b = np.where(rng.random(2000) < 0.05, 1 - ref_b, ref_b)
    da, db = row_a - ref_a, row_b - ref_b
    ci = delta_difference(ref_a, row_a, ref_b, row_b)
    half = 1.96 * math.sqrt(da.var(ddof=1) / da.size + db.var(ddof=1) / db.size)
    assert ci.delta == pytest.approx(da.mean() - db.mean(), abs=1e-12)
    assert ci.low == pytest.approx(ci.delta - half, abs=0.15 * half)
    assert ci.high == pytest.approx(ci.delta + half, abs=0.15 * half)


def test_delta_difference_shares_the_seed_draw_across_test_sets():
    """No query noise; per-seed Δ on a: -1, +1, +3, on b: -1, +1, +3 shifted by 0.5. A shared seed draw
    makes every replicate exactly -0.5 (independent draws would spread it over [-4.5, +3.5])."""
    ref_a, ref_b = np.zeros((3, 40)), np.zeros((3, 25))
    row_a = np.array([-1.0, 1.0, 3.0])[:, None] + ref_a
    row_b = np.array([-0.5, 1.5, 3.5])[:, None] + ref_b
    ci = delta_difference(ref_a, row_a, ref_b, row_b)
    assert (ci.delta, ci.low, ci.high) == pytest.approx((-0.5, -0.5, -0.5))
    with pytest.raises(ValueError, match="seed by seed across sets"):
        delta_difference(ref_a, row_a, ref_b[:2], row_b[:2])

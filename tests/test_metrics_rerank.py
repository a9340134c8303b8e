"""re_ranking against a dense, loop-by-loop k-reciprocal re-ranking (Zhong et al., CVPR 2017)."""

import numpy as np
import pytest
import torch

from reidlib.metrics import re_ranking
from reidlib.metrics.reference import dense_re_ranking as dense_reference


@pytest.mark.parametrize(
    "nq, ng, dim, k1, k2, lam, seed",
    [
        (10, 50, 8, 20, 6, 0.3, 0),
        (7, 40, 16, 5, 3, 0.1, 1),
        (25, 60, 4, 8, 1, 0.5, 2),
        (3, 12, 8, 20, 6, 0.3, 3),  # k1 + 1 larger than N
        (15, 70, 32, 10, 4, 0.0, 4),
    ],
)
def test_matches_dense_reference(nq, ng, dim, k1, k2, lam, seed):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((6, dim))
    qf = (centres[rng.integers(0, 6, nq)] + 0.7 * rng.standard_normal((nq, dim))).astype(np.float32)
    gf = (centres[rng.integers(0, 6, ng)] + 0.7 * rng.standard_normal((ng, dim))).astype(np.float32)
    ours = re_ranking(torch.from_numpy(qf), gf, k1=k1, k2=k2, lambda_value=lam)
    assert ours.shape == (nq, ng) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, dense_reference(qf, gf, k1, k2, lam), atol=5e-4)


def test_float64_features_rerank_in_float64():
    """float64 embeddings (the smoke profile) are re-ranked in float64: same result as the reference,
    and float64 out; a float32/float64 mix falls back to float32."""
    rng = np.random.default_rng(5)
    qf, gf = rng.standard_normal((12, 8)), rng.standard_normal((50, 8))
    ours = re_ranking(qf, gf, k1=10, k2=4, lambda_value=0.3)
    assert ours.dtype == np.float64
    np.testing.assert_allclose(ours, dense_reference(qf, gf, 10, 4, 0.3), atol=5e-4)
    assert re_ranking(qf.astype(np.float32), gf, k1=10, k2=4).dtype == np.float32


@pytest.mark.parametrize("seed", [0, 1])
def test_duplicates_and_ties(monkeypatch, seed):
    """Integer features: distances are exact, so ties (duplicates, distance 0) are real ties; both
    sides break them by index. A tiny chunk and tie margin exercise the chunk and full-sort paths."""
    import reidlib.metrics.rerank as rr

    monkeypatch.setattr(rr, "CHUNK_ELEMS", 500)
    monkeypatch.setattr(rr, "TIE_MARGIN", 1)
    rng = np.random.default_rng(seed)
    base = rng.integers(-2, 3, (30, 6)).astype(np.float32)
    feats = np.concatenate([base, base[:12]])[rng.permutation(42)]  # 12 exact duplicates
    qf, gf = feats[:9], feats[9:]
    ours = re_ranking(qf, gf, k1=6, k2=3, lambda_value=0.3)
    np.testing.assert_allclose(ours, dense_reference(qf, gf, 6, 3, 0.3), atol=5e-4)


def test_bad_inputs():
    q, g = np.zeros((2, 4), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="dimension"):
        re_ranking(q, np.ones((3, 5), np.float32))
    with pytest.raises(ValueError, match="q_feats"):
        re_ranking(np.full((2, 4), np.nan, np.float32), g)
    with pytest.raises(ValueError, match="k1"):
        re_ranking(q, g, k1=0)
    with pytest.raises(ValueError, match="lambda_value"):
        re_ranking(q, g, lambda_value=2.0)

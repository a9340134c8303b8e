"""Distances, multi-query pooling and feature extraction."""

import numpy as np
import pytest
import torch
from torch import nn

from reidlib.metrics import cosine_distance, euclidean_distance, extract_features, pool_multi_query


def test_distances_match_direct_formulas(monkeypatch):
    import reidlib.metrics.distance as dist

    monkeypatch.setattr(dist, "CHUNK_ELEMS", 50)  # many chunks
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((13, 7)), rng.standard_normal((11, 7))
    sq = ((a[:, None] - b[None]) ** 2).sum(-1)
    np.testing.assert_allclose(euclidean_distance(a, b, squared=True).numpy(), sq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(euclidean_distance(a, b).numpy(), np.sqrt(sq), rtol=1e-5, atol=1e-5)
    cos = 1 - (a @ b.T) / np.linalg.norm(a, axis=1)[:, None] / np.linalg.norm(b, axis=1)[None]
    np.testing.assert_allclose(cosine_distance(a, b).numpy(), cos, rtol=1e-5, atol=1e-5)
    assert euclidean_distance(a, a).diagonal().abs().max() < 1e-3
    assert euclidean_distance(a.astype(np.float64), b).dtype == torch.float64
    with pytest.raises(ValueError, match="dimension"):
        euclidean_distance(a, b[:, :3])
    with pytest.raises(ValueError, match="a "):
        cosine_distance(np.array([[np.nan, 1.0]]), np.ones((1, 2)))


@pytest.mark.parametrize("mode", ["mean", "max"])
def test_pool_multi_query_matches_loop(mode):
    rng = np.random.default_rng(1)
    q = rng.standard_normal((6, 4)).astype(np.float32)
    q_pids, q_cams = np.array([0, 0, 1, 2, 2, 3]), np.array([0, 1, 0, 0, 0, 1])
    mq = rng.standard_normal((9, 4)).astype(np.float32)
    mq_pids, mq_cams = np.array([0, 0, 0, 1, 1, 2, 5, 3, 0]), np.array([0, 0, 1, 1, 0, 0, 0, 0, 2])
    out = pool_multi_query(q, q_pids, q_cams, mq, mq_pids, mq_cams, mode=mode).numpy()
    for i in range(6):
        members = [q[i]] + [mq[j] for j in range(9) if mq_pids[j] == q_pids[i] and mq_cams[j] == q_cams[i]]
        ref = np.mean(members, 0) if mode == "mean" else np.max(members, 0)
        np.testing.assert_allclose(out[i], ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[5], q[5])  # pid 3 / cam 1 has no gt_bbox image: unchanged
    with pytest.raises(ValueError, match="mode"):
        pool_multi_query(q, q_pids, q_cams, mq, mq_pids, mq_cams, mode="median")
    with pytest.raises(ValueError, match="mq_pids"):
        pool_multi_query(q, q_pids, q_cams, mq, mq_pids[:3], mq_cams)


class Tiny(nn.Module):
    """Asymmetric in width, so flipping changes the feature."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Linear(4 * 8 * 4, 5)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        return self.head(self.drop(self.conv(x)).flatten(1))


def test_extract_features_with_flip():
    torch.manual_seed(0)
    imgs = torch.randn(10, 3, 8, 4)
    data = [(imgs[i], i % 3, i % 2, i) for i in range(10)]
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    model = Tiny().train()
    feats, pids, camids = extract_features(model, loader, flip=False)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        plain = model(imgs)
        mirrored = model(torch.flip(imgs, dims=[-1]))
    torch.testing.assert_close(feats, plain)  # eval mode: dropout off, deterministic
    np.testing.assert_array_equal(pids, np.arange(10) % 3)
    np.testing.assert_array_equal(camids, np.arange(10) % 2)
    flipped, _, _ = extract_features(model, loader, flip=True, desc="test")
    torch.testing.assert_close(flipped, (plain + mirrored) / 2)
    assert not torch.allclose(flipped, plain)
    assert feats.dtype == torch.float32 and feats.device.type == "cpu"

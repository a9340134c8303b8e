"""Softmax heads, exclusivity (mmps Eq. 3–4), batch-hard triplet, training_step bookkeeping."""

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F

from reidlib import experiments
from reidlib.experiments import LossSpec
from reidlib.losses import batch_hard_triplet, cross_entropy, exclusivity, training_step
from reidlib.models import build_model
from reidlib.models.heads import NormalizedLinear, build_classifier


def test_exclusivity_matches_pairwise_definition():
    w = torch.randn(7, 5, dtype=torch.float64) * torch.rand(7, 1, dtype=torch.float64) * 3
    wn = w / w.norm(dim=1, keepdim=True)
    pairwise = sum((wn[a].abs() * wn[b].abs()).sum() for a, b in itertools.product(range(7), repeat=2))
    assert torch.allclose(exclusivity(w).double(), pairwise, rtol=1e-5)
    # diagonal = n (unit rows): R - n is the off-diagonal exclusivity of Eq. 3
    off = sum((wn[a].abs() * wn[b].abs()).sum() for a, b in itertools.permutations(range(7), 2))
    assert torch.allclose(exclusivity(w).double() - 7, off, rtol=1e-5)


def test_exclusivity_is_scale_free_and_minimal_for_disjoint_supports():
    w = torch.randn(4, 6)
    assert torch.allclose(exclusivity(w), exclusivity(w * torch.tensor([[1.0], [5.0], [0.1], [2.0]])))
    disjoint = torch.eye(4, 6)
    assert exclusivity(disjoint).item() == pytest.approx(4.0)  # only the diagonal remains
    with pytest.raises(ValueError, match="classes"):
        exclusivity(torch.randn(3))


def test_normalized_logits_bounded_by_scale():
    head = NormalizedLinear(16, 10, scale=15.0)
    with torch.no_grad():
        head.bias.uniform_(-1, 1)
    x = torch.randn(64, 16) * 100
    logits = head(x)
    cos = (logits - head.bias) / 15.0
    assert cos.abs().max() <= 1 + 1e-5
    assert (logits <= 15.0 + head.bias + 1e-4).all() and (logits >= -15.0 + head.bias - 1e-4).all()
    # a feature equal to a class weight reaches s + b for that class
    x = head.weight[3:4].detach() * 7
    assert head(x)[0, 3].item() == pytest.approx(15.0 + head.bias[3].item(), abs=1e-4)
    assert isinstance(build_classifier("normalized", 16, 10, 15.0), NormalizedLinear)
    assert isinstance(build_classifier("linear", 16, 10), torch.nn.Linear)


def test_cross_entropy_label_smoothing():
    logits, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    assert torch.allclose(cross_entropy(logits, y), F.cross_entropy(logits, y))
    eps = 0.1
    q = torch.full((5, 4), eps / 4).scatter_(1, y[:, None], 1 - eps + eps / 4)
    ref = -(q * logits.log_softmax(1)).sum(1).mean()
    assert torch.allclose(cross_entropy(logits, y, eps), ref, atol=1e-6)


def test_batch_hard_triplet_brute_force():
    emb = torch.randn(8, 6, dtype=torch.float64)
    pids = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    d = torch.cdist(emb, emb)
    ref = []
    for a in range(8):
        pos = max(d[a, p] for p in range(8) if p != a and pids[p] == pids[a])
        neg = min(d[a, n] for n in range(8) if pids[n] != pids[a])
        ref.append(torch.relu(pos - neg + 0.3))
    assert torch.allclose(batch_hard_triplet(emb, pids, 0.3).double(), torch.stack(ref).mean(), atol=1e-5)
    # no positive pairs at all: zero, still differentiable
    e = torch.randn(3, 2, requires_grad=True)
    loss = batch_hard_triplet(e, torch.tensor([0, 1, 2]))
    loss.backward()
    assert loss.item() == 0.0


def _tiny(name):
    exp = experiments.get(name)
    return build_model(dataclasses.replace(exp.model, depth=18, pyramid_channels=16), 4), exp.loss


def test_training_step_fills_grads_and_reports_terms():
    model, loss_spec = _tiny("mmps.ablation.full")
    x, pids = torch.randn(8, 3, 64, 32), torch.arange(4).repeat_interleave(2)
    spec = dataclasses.replace(loss_spec, triplet_weight=1.0, exclusivity=1e-3, label_smoothing=0.1)
    out = training_step(model, x, pids, spec)
    assert set(out) == {"loss", "ce", "triplet", "exclusivity", "msgr", "acc"}
    assert all(isinstance(v, float) for v in out.values())
    assert out["loss"] == pytest.approx(out["ce"] + out["triplet"] + out["exclusivity"], rel=1e-5)
    assert out["exclusivity"] > 0 and out["msgr"] == 0.0 and 0 <= out["acc"] <= 1
    assert all(c.weight.grad is not None for c in model.classifiers)
    g1 = model.backbone.stem[0].weight.grad.clone()
    training_step(model, x, pids, spec)  # never zeroes: gradients accumulate
    assert torch.allclose(model.backbone.stem[0].weight.grad, 2 * g1, rtol=1e-3, atol=1e-7)


def test_training_step_rejects_bad_loss_specs():
    model, _ = _tiny("amfl.table1.a")
    x, pids = torch.randn(4, 3, 64, 32), torch.tensor([0, 0, 1, 1])
    with pytest.raises(ValueError, match="msgr_taps"):
        training_step(model, x, pids, LossSpec(msgr_taps=("C9",), msgr_sigma=1e-2))


def test_pairwise_angles_against_a_loop():
    import math

    from reidlib.losses import pairwise_angles

    w = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [-3.0, 0.0]])
    want = []
    for a in range(4):
        for b in range(a + 1, 4):
            u, v = w[a].tolist(), w[b].tolist()
            c = (u[0] * v[0] + u[1] * v[1]) / (math.hypot(*u) * math.hypot(*v))
            want.append(math.degrees(math.acos(max(-1.0, min(1.0, c)))))
    assert pairwise_angles(w).tolist() == pytest.approx(want)  # 90, 45, 180, 45, 90, 135
    with pytest.raises(ValueError, match="classes"):
        pairwise_angles(torch.ones(1, 4))

"""MSGR (amfl Eq. 4, 7): value and parameter gradient against an independent per-sample torch.func
computation, the AMP paths (bf16 autocast, GradScaler), and the finite-difference mode."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from reidlib import experiments
from reidlib.experiments import LossSpec
from reidlib.losses import msgr_penalty, objective, training_step
from reidlib.models import build_model

SIGMA = 0.37


class TinyNet(nn.Module):
    """x → conv → tanh = t → linear → logits (smooth, no cross-sample coupling)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 5)

    def stage(self, x):
        return torch.tanh(self.conv(x))

    def head(self, t):
        return self.fc(t.flatten(1))


def _reference(net, x, y, norm):
    """σ(mean_i ‖∂L_i/∂x_i‖ + mean_i ‖∂L_i/∂t_i‖) and its parameter gradient, via vmap(grad)."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def stage(p, xi):
        return torch.tanh(F.conv2d(xi[None], p["conv.weight"], p["conv.bias"]))[0]

    def loss_t(p, ti, yi):
        return F.cross_entropy(F.linear(ti.flatten()[None], p["fc.weight"], p["fc.bias"]), yi[None])

    def loss_x(p, xi, yi):
        return loss_t(p, stage(p, xi), yi)

    def sample_penalty(p, xi, yi):
        gx = grad(loss_x, argnums=1)(p, xi, yi)
        gt = grad(loss_t, argnums=1)(p, stage(p, xi), yi)
        return torch.linalg.vector_norm(gx.flatten(), norm) + torch.linalg.vector_norm(gt.flatten(), norm)

    def penalty(p):
        return SIGMA * vmap(sample_penalty, in_dims=(None, 0, 0))(p, x, y).mean()

    return penalty(params), grad(penalty)(params)


@pytest.mark.parametrize("norm", [1.0, 2.0, float("inf")])
def test_penalty_value_and_gradient_match_torch_func(norm):
    torch.manual_seed(1)
    net = TinyNet().double()
    x = torch.randn(6, 3, 6, 6, dtype=torch.float64)
    y = torch.randint(0, 5, (6,))
    ref_value, ref_grad = _reference(net, x, y, norm)

    xr = x.clone().requires_grad_(True)
    t = net.stage(xr)
    loss = F.cross_entropy(net.head(t), y)
    pen = msgr_penalty(loss, {"x": xr, "t": t}, sigma=SIGMA, norm=norm)
    names, params = zip(*net.named_parameters())
    got = torch.autograd.grad(pen, params)
    assert pen.item() == pytest.approx(ref_value.item(), rel=1e-5)
    for n, g in zip(names, got):
        assert torch.allclose(g.double(), ref_grad[n], rtol=1e-4, atol=1e-8), n


def test_penalty_with_grad_scaler_equals_unscaled():
    net = TinyNet()
    x = torch.randn(4, 3, 6, 6, requires_grad=True)
    y = torch.randint(0, 5, (4,))
    t = net.stage(x)
    loss = F.cross_entropy(net.head(t), y)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    a = msgr_penalty(loss, [x, t], 1e-2, 2.0)
    b = msgr_penalty(loss, [x, t], 1e-2, 2.0, scaler=scaler)
    assert b.item() == pytest.approx(a.item(), rel=1e-5)


def _tiny_model(name="amfl.table4.msgr", depth=18):
    exp = experiments.get(name)
    return build_model(dataclasses.replace(exp.model, depth=depth, pyramid_channels=16, embed_dim=32), 4), exp.loss


def test_bf16_autocast_and_scaler_paths_on_cpu():
    model, loss_spec = _tiny_model()
    loss_spec = dataclasses.replace(loss_spec, triplet_weight=0.0)  # hard mining flips under bf16
    x, pids = torch.randn(4, 3, 32, 16), torch.arange(2).repeat_interleave(2)
    ref = training_step(model, x, pids, loss_spec)
    ref_grad = model.backbone.stem[0].weight.grad.clone()
    model.zero_grad()
    bf = training_step(model, x, pids, loss_spec, autocast_dtype=torch.bfloat16)
    assert all(torch.isfinite(torch.tensor(v)) for v in bf.values())
    assert bf["msgr"] == pytest.approx(ref["msgr"], rel=0.25)  # bf16 at a 32x16 input: coarse
    assert bf["ce"] == pytest.approx(ref["ce"], rel=0.05)
    g = model.backbone.stem[0].weight.grad
    assert torch.isfinite(g).all()
    assert F.cosine_similarity(g.flatten(), ref_grad.flatten(), dim=0) > 0.5
    again = training_step(model, x, pids, loss_spec, autocast_dtype=torch.bfloat16)
    assert again == bf  # deterministic (oneDNN is switched off for this case, see objective.py)
    model.zero_grad()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    sc = training_step(model, x, pids, loss_spec, scaler=scaler)
    assert sc["msgr"] == pytest.approx(ref["msgr"], rel=1e-4)
    assert torch.allclose(model.backbone.stem[0].weight.grad / 2.0**10, ref_grad, rtol=1e-3, atol=1e-6)


def _smooth(model):
    """Swap every ReLU for a Softplus, so the loss is smooth in the taps (finite differences)."""
    for mod in list(model.modules()):
        for name, child in mod.named_children():
            if isinstance(child, nn.ReLU):
                setattr(mod, name, nn.Softplus(beta=4.0))
    return model


def test_finite_difference_gradient_close_to_double_backprop(monkeypatch):
    """On a smooth model (float64) the finite difference converges to the double backprop as h → 0.
    (With ReLU the two differ at any h: FD sees the kinks the perturbation crosses; see the bench.)"""
    monkeypatch.setattr(objective, "FD_STEP", 1e-6)
    torch.manual_seed(0)
    model, _ = _tiny_model()
    model = _smooth(model).double()
    x = torch.randn(8, 3, 32, 16, dtype=torch.float64)
    pids = torch.arange(4).repeat_interleave(2)
    base = LossSpec(msgr_taps=("x", "C2", "C3"), msgr_sigma=0.5, msgr_norm=2.0)

    def grads(spec):
        model.zero_grad()
        out = training_step(model, x, pids, spec)
        return out, torch.cat([p.grad.flatten() for p in model.parameters()])

    _, plain = grads(dataclasses.replace(base, msgr_sigma=0.0))
    db_out, db = grads(base)
    fd_out, fd = grads(dataclasses.replace(base, msgr_mode="finite_difference"))
    assert fd_out["msgr"] == pytest.approx(db_out["msgr"], rel=1e-6)
    assert fd_out["loss"] == pytest.approx(db_out["loss"], rel=1e-6)
    pen_db, pen_fd = db - plain, fd - plain  # the penalty's own parameter gradient
    assert pen_db.norm() > 1e-3 * plain.norm()
    cos = F.cosine_similarity(pen_db, pen_fd, dim=0).item()
    rel = ((pen_fd - pen_db).norm() / pen_db.norm()).item()
    assert cos > 0.9999 and rel < 5e-3, (cos, rel)


def test_finite_difference_leaves_bn_running_stats_as_one_pass():
    model, loss_spec = _tiny_model()
    x, pids = torch.randn(8, 3, 32, 16), torch.arange(4).repeat_interleave(2)
    spec = dataclasses.replace(loss_spec, msgr_mode="finite_difference")
    bn = model.backbone.stem[1]
    training_step(model, x, pids, dataclasses.replace(loss_spec, msgr_sigma=0.0))
    after_plain = (bn.running_mean.clone(), int(bn.num_batches_tracked))
    bn.reset_running_stats()
    training_step(model, x, pids, spec)
    assert torch.allclose(bn.running_mean, after_plain[0]) and int(bn.num_batches_tracked) == after_plain[1]

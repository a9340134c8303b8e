"""MSGR (amfl Eq. 4, 7): value and parameter gradient against an independent per-sample torch.func
computation, the AMP paths (bf16 autocast, GradScaler)."""

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from reidlib import experiments
from reidlib.losses import msgr_penalty, training_step
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


def test_cpu_msgr_step_runs_float32_under_bf16_autocast_and_scaler_path():
    """On CPU an MSGR step ignores bf16 autocast (objective.py: float32 + oneDNN is exact and fastest);
    a step without MSGR keeps it."""
    model, loss_spec = _tiny_model()
    loss_spec = dataclasses.replace(loss_spec, triplet_weight=0.0)
    x, pids = torch.randn(4, 3, 32, 16), torch.arange(2).repeat_interleave(2)
    ref = training_step(model, x, pids, loss_spec)
    ref_grad = model.backbone.stem[0].weight.grad.clone()
    model.zero_grad()
    bf = training_step(model, x, pids, loss_spec, autocast_dtype=torch.bfloat16)
    assert bf == ref
    assert torch.equal(model.backbone.stem[0].weight.grad, ref_grad)
    plain = dataclasses.replace(loss_spec, msgr_sigma=0.0)
    assert training_step(model, x, pids, plain, autocast_dtype=torch.bfloat16)["ce"] != \
        training_step(model, x, pids, plain)["ce"]
    model.zero_grad()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    sc = training_step(model, x, pids, loss_spec, scaler=scaler)
    assert sc["msgr"] == pytest.approx(ref["msgr"], rel=1e-4)
    assert torch.allclose(model.backbone.stem[0].weight.grad / 2.0**10, ref_grad, rtol=1e-3, atol=1e-6)



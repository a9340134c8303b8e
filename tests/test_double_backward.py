"""reidlib.models.double_backward.BatchNorm2d: the same numbers as nn.BatchNorm2d on every ordinary path,
and a double backward (MSGR's) equal to PyTorch's own and to finite differences."""

import dataclasses

import pytest
import torch
from torch import nn

from reidlib import experiments
from reidlib.losses import msgr_penalty
from reidlib.models import build_model
from reidlib.models.double_backward import (
    BatchNorm2d,
    Conv2d,
    _BatchNormTrain,
    _ConvTrain,
    tap_gradients_only,
)


def _pair(momentum=0.1):
    torch.manual_seed(0)
    ref = nn.BatchNorm2d(3, momentum=momentum).double()
    ours = BatchNorm2d(3, momentum=momentum).double()
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.normal_()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


@pytest.mark.parametrize("momentum", [0.1, None])
def test_forward_backward_and_running_statistics_equal_nn_batchnorm(momentum):
    ref, ours = _pair(momentum)
    for step in range(3):
        x = torch.randn(4, 3, 5, 2, dtype=torch.float64) * (step + 1)
        outs = []
        for bn in (ref, ours):
            xi = x.clone().requires_grad_(True)
            y = bn(xi)
            (y * torch.arange(y.numel(), dtype=y.dtype).view_as(y)).sum().backward()
            outs.append((y, xi.grad, bn.weight.grad.clone(), bn.bias.grad.clone()))
            bn.zero_grad()
        for a, b in zip(*outs):
            assert torch.equal(a, b)
    for name, buf in ref.state_dict().items():
        assert torch.equal(buf, ours.state_dict()[name]), name
    ref.eval()
    ours.eval()
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64)
    assert torch.equal(ref(x), ours(x))


def test_differentiable_first_backward_equals_nn_batchnorm_bit_for_bit():
    """With create_graph (MSGR's first backward), gx, gw, gb are those of nn.BatchNorm2d exactly."""
    torch.manual_seed(0)
    ref, ours = nn.BatchNorm2d(8), BatchNorm2d(8)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 8, 6, 3)
    g = torch.randn(4, 8, 6, 3)
    grads = []
    for bn in (ref, ours):
        xi = x.clone().requires_grad_(True)
        grads.append(torch.autograd.grad(bn(xi), (xi, bn.weight, bn.bias), g, create_graph=True))
    for a, b in zip(*grads):
        assert torch.equal(a, b)


def _bn(x, w, b):
    return _BatchNormTrain.apply(x, w, b, None, None, 0.1, 1e-5)


def test_gradgradcheck():
    """Finite differences of the first backward (gx, gw, gb) in every input, with gradients on all
    three outputs (gradgradcheck) and on gx alone (MSGR's case: gw and gb get none)."""
    torch.manual_seed(0)
    x = torch.randn(3, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    w = torch.rand(2, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_bn, (x, w, b))
    assert torch.autograd.gradgradcheck(_bn, (x, w, b))
    u = torch.randn(3, 2, 4, 3, dtype=torch.float64)

    def gx_only(x, w, b):
        return torch.autograd.grad((_bn(x, w, b) * u).sum(), x, create_graph=True)[0]

    assert torch.autograd.gradcheck(gx_only, (x, w, b))


def test_msgr_gradient_equals_pytorch_double_backward():
    """The MSGR penalty's parameter gradient of a ResNet-18 baseline (taps x, C2, C3, float64) with
    our layers (build_model's) and with nn.BatchNorm2d / nn.Conv2d (PyTorch's double backward)
    agree to 1e-10."""
    exp = experiments.get("amfl.table3.j")
    spec = dataclasses.replace(exp.model, depth=18)
    grads = []
    for swap in (False, True):
        torch.manual_seed(0)
        net = build_model(spec, num_classes=4, dtype=torch.float64).train()
        if not swap:
            for m in net.modules():
                if type(m) in (BatchNorm2d, Conv2d):
                    m.__class__ = m.__class__.__mro__[1]  # nn.BatchNorm2d / nn.Conv2d
        assert any(type(m) is BatchNorm2d for m in net.modules()) == swap
        assert any(type(m) is Conv2d for m in net.modules()) == swap
        torch.manual_seed(1)
        x = torch.randn(4, 3, 64, 32, dtype=torch.float64, requires_grad=True)
        out = net(x)
        loss = nn.functional.cross_entropy(out["logits"][0], torch.tensor([0, 0, 1, 1]))
        pen = msgr_penalty(loss, [x, out["stages"]["C2"], out["stages"]["C3"]], 1e-2, 2.0)
        grads.append(torch.cat([g.flatten() for g in torch.autograd.grad(pen, list(net.parameters()),
                                                                          allow_unused=True) if g is not None]))
    assert grads[0].shape == grads[1].shape
    assert (grads[0] - grads[1]).norm() <= 1e-10 * grads[0].norm()


@pytest.mark.parametrize("args", [((1, 1), (1, 1), (1, 1), 1), ((2, 2), (0, 0), (1, 1), 1),
                                  ((2, 2), (3, 3), (1, 1), 1), ((1, 1), (2, 2), (2, 2), 2)])
def test_conv_gradcheck_and_gradgradcheck(args):
    torch.manual_seed(0)
    x = torch.randn(2, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 2 // args[3], 3, 3, dtype=torch.float64, requires_grad=True)

    def conv(x, w):
        return _ConvTrain.apply(x, w, args)

    assert torch.autograd.gradcheck(conv, (x, w), fast_mode=True)
    assert torch.autograd.gradgradcheck(conv, (x, w), fast_mode=True)


def test_conv_equals_nn_conv_and_falls_back_where_it_must():
    torch.manual_seed(0)
    ref = nn.Conv2d(3, 5, 3, stride=2, padding=1, bias=False)
    ours = Conv2d(3, 5, 3, stride=2, padding=1, bias=False)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 8, 6)
    outs = []
    for conv in (ref, ours):
        xi = x.clone().requires_grad_(True)
        y = conv(xi)
        (y * y).sum().backward()
        outs.append((y, xi.grad, conv.weight.grad))
    for a, b in zip(*outs):
        assert torch.equal(a, b)
    assert type(ours(x).grad_fn).__name__ == "_ConvTrainBackward"
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast: nn.Conv2d's own path (bf16)
        assert ours(x).dtype == torch.bfloat16
    with torch.no_grad():
        assert torch.equal(ours(x), ref(x))


def test_tap_gradients_only_drops_the_weight_gradient_of_the_graph_pass_only():
    """Inside the context a create_graph backward gives no weight gradient (msgr_penalty never asks
    for one); outside it, and in every ordinary backward, the weight gradient is there."""
    torch.manual_seed(0)
    conv = Conv2d(2, 3, 3, bias=False).double()
    x = torch.randn(2, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    loss = conv(x).pow(2).sum()
    with tap_gradients_only():
        (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    gx.pow(2).sum().backward()
    ref = nn.Conv2d(2, 3, 3, bias=False).double()
    ref.load_state_dict(conv.state_dict())
    loss_ref = ref(x).pow(2).sum()
    (gx_ref,) = torch.autograd.grad(loss_ref, x, create_graph=True)
    (want,) = torch.autograd.grad(gx_ref.pow(2).sum(), ref.weight)
    assert torch.allclose(conv.weight.grad, want, rtol=1e-12, atol=0)
    _, gw = torch.autograd.grad(conv(x).pow(2).sum(), (x, conv.weight), create_graph=True)
    assert gw is not None and gw.requires_grad

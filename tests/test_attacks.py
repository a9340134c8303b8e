"""reidlib.attacks: a model with a known gradient gets the textbook FGSM step; every attack respects its
norm bound and the valid-image box; eps = 0 is the identity."""

import numpy as np
import pytest
import torch
from torch import nn

from reidlib.attacks import attack, gradient_norms, match_centroids
from reidlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

STD = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = w

    def forward(self, x):
        return x.flatten(1) @ self.w.T


def _mid_grey(b=2, h=4, w=3):
    pix = torch.full((b, 3, h, w), 0.5, dtype=torch.float64) + 0.1 * torch.rand(b, 3, h, w, dtype=torch.float64)
    return (pix - MEAN) / STD


@pytest.mark.parametrize("norm", ["inf", "2"])
def test_fgsm_step_of_a_linear_model(norm):
    torch.manual_seed(0)
    x = _mid_grey()
    w = torch.randn(5, x[0].numel(), dtype=torch.float64)
    c = torch.randn(2, 5, dtype=torch.float64)
    model = Linear(w).eval()
    g = (2 * (x.flatten(1) @ w.T - c) @ w).view_as(x)  # d/dx ||Wx - c||^2, in the model's input space
    g_pix = g / STD  # x' = x + delta / std
    eps = 0.01
    if norm == "inf":
        want = x + eps * g_pix.sign() / STD
    else:
        want = x + eps * g_pix / g_pix.flatten(1).norm(dim=1).view(-1, 1, 1, 1) / STD
    torch.testing.assert_close(attack(model, x, c, eps, norm=norm, steps=1), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("norm, steps", [("inf", 1), ("inf", 5), ("2", 1), ("2", 5)])
def test_norm_bound_and_valid_images(norm, steps):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).double().eval()
    pix = torch.rand(3, 3, 8, 6, dtype=torch.float64)
    pix[0] = 0.0  # an image at the edge of the box: the clamp must hold it
    x = (pix - MEAN) / STD
    c = torch.randn(3, 4, dtype=torch.float64)
    eps = 0.03 if norm == "inf" else 0.5
    xa = attack(model, x, c, eps, norm=norm, steps=steps)
    d = ((xa - x) * STD).flatten(1)
    size = d.abs().amax(1) if norm == "inf" else d.norm(dim=1)
    assert (size <= eps * (1 + 1e-9)).all() and (size > 0).any()
    back = xa * STD + MEAN
    assert back.min() >= -1e-12 and back.max() <= 1 + 1e-12
    loss = lambda z: (model(z) - c).pow(2).sum().item()  # noqa: E731
    assert loss(xa) > loss(x)


def test_eps_zero_is_the_identity_and_bad_arguments_are_named():
    model = nn.Flatten().eval()
    x = _mid_grey()
    assert attack(model, x, torch.zeros(2, x[0].numel(), dtype=torch.float64), 0.0) is x
    with pytest.raises(ValueError, match="norm must be one of"):
        attack(model, x, x.flatten(1), 0.1, norm="1")
    with pytest.raises(ValueError, match="eps must be"):
        attack(model, x, x.flatten(1), -0.1)
    with pytest.raises(ValueError, match="eval mode"):
        attack(nn.Flatten().train(), x, x.flatten(1), 0.1)


def test_match_centroids():
    g = torch.arange(12, dtype=torch.float64).view(6, 2)
    gp, gc = np.array([1, 1, 1, 2, 2, 3]), np.array([0, 1, 1, 0, 0, 0])
    out = match_centroids(np.array([1, 2, 4]), np.array([0, 0, 0]), g, gp, gc)
    torch.testing.assert_close(out[0], g[[1, 2]].mean(0))  # other cameras only
    torch.testing.assert_close(out[1], g[[3, 4]].mean(0))  # no other camera: every image of the identity
    assert out[2].abs().sum() == 0  # identity absent from the gallery


def test_gradient_norms_of_a_linear_model_and_the_first_order_rise_of_fgsm():
    """‖∇‖₁ / ‖∇‖₂ are the pixel-space gradient's norms; an FGSM step of radius r raises the (here
    quadratic) objective by r‖∇‖₁ (L∞) or r‖∇‖₂ (L2) to first order (amfl Eq. 3–4)."""
    torch.manual_seed(0)
    x = _mid_grey()
    w = torch.randn(5, x[0].numel(), dtype=torch.float64)
    c = torch.randn(2, 5, dtype=torch.float64)
    model = Linear(w).eval()
    g_pix = (2 * (x.flatten(1) @ w.T - c) @ w).view_as(x) / STD
    n = gradient_norms(model, x, c)
    torch.testing.assert_close(n[:, 0], g_pix.flatten(1).abs().sum(1))
    torch.testing.assert_close(n[:, 1], g_pix.flatten(1).norm(dim=1))
    r = 1e-6
    loss = ((model(x) - c) ** 2).sum(1)
    for col, norm in ((0, "inf"), (1, "2")):
        rise = ((model(attack(model, x, c, r, norm=norm)) - c) ** 2).sum(1) - loss
        torch.testing.assert_close(rise, r * n[:, col], rtol=1e-4, atol=0)
    with pytest.raises(ValueError, match="eval mode"):
        gradient_norms(Linear(w).train(), x, c)

"""Norm-bounded attacks on a re-id embedding, to measure what amfl §III-B says MSGR buys.

amfl §III-B (Eq. 1-4) derives MSGR as the first-order worst case of a perturbation ``ε`` with
``‖ε‖_p ≤ r`` of the input (and, Eq. 5-7, of the stages): ``max_ε L(x + ε) ≈ L(x) + r ‖∇ₓL‖_{p*}``.
A model trained with the penalty should therefore lose less when its queries are perturbed within
such a ball. We measure that directly with the classic attacks:

* **FGSM** (Goodfellow et al., amfl ref. [10]): one step to the ball's worst-case point of the
  linearised objective — ``r · sign(∇)`` for L∞, ``r · ∇ / ‖∇‖₂`` for L2;
* **PGD** (Madry et al.): ``steps`` such steps of size ``2.5 r / steps``, each projected back onto
  the ball and onto valid images.

The objective (our choice; the papers attack nothing): the squared Euclidean distance between the
perturbed query's embedding and the *centroid of its true matches' clean gallery embeddings*, to be
increased — the white-box attacker pushes each query away from its identity in the gallery, which
is what rank-1 and mAP measure. The radius ``eps`` is in pixel units (images in [0, 1]) and the
perturbed image stays a valid image; the models see ImageNet-normalised tensors, so a pixel-space
step ``δ`` is ``δ / std`` per channel in the model's input space. ``eps = 0`` returns the queries
unchanged (no budget, no perturbation), so the clean metrics are reproduced exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from reidlib.data.transforms import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["NORMS", "attack", "gradient_norms", "match_centroids"]

NORMS = ("inf", "2")


def _channel(values, x: torch.Tensor) -> torch.Tensor:
    return torch.tensor(values, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)


def _step(grad: torch.Tensor, norm: str, size: float) -> torch.Tensor:
    """The steepest-ascent step of length ``size`` in ``norm`` for a pixel-space gradient."""
    if norm == "inf":
        return size * grad.sign()
    flat = grad.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
    return size * grad / flat


def _project(delta: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    """``delta`` (pixel units) projected onto the ``norm`` ball of radius ``eps``."""
    if norm == "inf":
        return delta.clamp(-eps, eps)
    n = delta.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return delta * torch.where(n > eps, eps / n.clamp_min(1e-30), torch.ones_like(n))


def attack(model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, eps: float, norm: str = "inf",
           steps: int = 1, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """Perturbed copies of the normalised images ``x`` (B×3×H×W) that increase
    ``‖model(x') − targets‖²`` within ``‖(x' − x)·std‖_norm ≤ eps`` (pixel units) and ``x'·std + mean``
    in [0, 1]. ``steps`` = 1 is FGSM, more is PGD (step ``2.5 eps / steps``). ``model`` must be in eval
    mode and return B×D embeddings; ``targets`` is B×D (see :func:`match_centroids`).
    """
    if norm not in NORMS:
        raise ValueError(f"attack: norm must be one of {NORMS}, got {norm!r}")
    if not (eps >= 0 and math.isfinite(eps)):
        raise ValueError(f"attack: eps must be a finite radius >= 0 (pixel units), got {eps}")
    if steps < 1:
        raise ValueError(f"attack: steps must be >= 1, got {steps}")
    if model.training:
        raise ValueError("attack: put the model in eval mode first (batch statistics would mix the queries)")
    if eps == 0:
        return x
    mean_c, std_c = _channel(mean, x), _channel(std, x)
    lo, hi = (0 - mean_c) / std_c, (1 - mean_c) / std_c  # valid images, in the model's input space
    size = eps if steps == 1 else 2.5 * eps / steps
    delta = torch.zeros_like(x)  # pixel units
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            xa = torch.maximum(torch.minimum(x + delta / std_c, hi), lo)
            loss = (model(xa) - targets).pow(2).sum()
            (grad,) = torch.autograd.grad(loss, delta)
        delta = _project(delta.detach() + _step(grad, norm, size), norm, eps)
    return torch.maximum(torch.minimum(x + delta / std_c, hi), lo).detach()


def gradient_norms(model: torch.nn.Module, x: torch.Tensor, targets: torch.Tensor, std=IMAGENET_STD) -> torch.Tensor:
    """B×2: per image, ‖∇‖₁ and ‖∇‖₂ of :func:`attack`'s objective ``‖model(x) − targets‖²`` with
    respect to the image in pixel units (images in [0, 1]), at the clean image. To first order
    (amfl Eq. 3–4) an L∞ attack of radius r raises the objective by r‖∇‖₁ and an L2 attack by r‖∇‖₂:
    the quantity MSGR penalises, measured on the test queries. ``model`` must be in eval mode."""
    if model.training:
        raise ValueError("gradient_norms: put the model in eval mode first")
    std_c = _channel(std, x)
    delta = torch.zeros_like(x, requires_grad=True)
    with torch.enable_grad():
        loss = (model(x + delta / std_c) - targets).pow(2).sum()
        (grad,) = torch.autograd.grad(loss, delta)
    flat = grad.flatten(1)
    return torch.stack([flat.abs().sum(1), flat.norm(dim=1)], dim=1).detach()


def match_centroids(q_pids: np.ndarray, q_camids: np.ndarray, g_feats: torch.Tensor, g_pids: np.ndarray,
                    g_camids: np.ndarray) -> torch.Tensor:
    """Per query, the mean clean embedding of its true matches in the gallery (same identity, other
    camera — the Market protocol's valid matches); a query without one gets its identity's mean over
    every camera, and an identity absent from the gallery gets zeros (its metrics skip it anyway)."""
    q_pids, q_camids = np.asarray(q_pids), np.asarray(q_camids)
    g_pids, g_camids = np.asarray(g_pids), np.asarray(g_camids)
    out = torch.zeros((len(q_pids), g_feats.shape[1]), dtype=g_feats.dtype)
    for i, (p, c) in enumerate(zip(q_pids, q_camids)):
        same = g_pids == p
        valid = same & (g_camids != c)
        pick = valid if valid.any() else same
        if pick.any():
            out[i] = g_feats[torch.from_numpy(np.flatnonzero(pick))].mean(0)
    return out

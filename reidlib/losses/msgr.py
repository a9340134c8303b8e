"""Multi-scale gradient regulariser, MSGR (amfl §III-B, Eq. 1–7).

Eq. 1 asks for robustness to any perturbation ε with ‖ε‖_p ≤ σ; the first-order solution (Eq. 3,
Appendix A) turns it into the penalty σ‖∇L‖_{p*} with 1/p + 1/p* = 1 (Eq. 4); MSGR applies it to
the input and to stage outputs (Eq. 7)::

    L + σ Σ_k ‖∇_{t_k} L‖_{p*},   t_k ∈ {x, C2, C3, C4, C5}.

Our penalty: ``σ · Σ_k mean_i ‖∂(B·L)/∂t_k[i]‖_{p*}`` — per-sample gradient norms (sample i's slice
of the gradient of the batch-summed loss), averaged over the batch, so σ means the same for any
batch size. ``norm`` is the norm applied to the *gradient*, p*. amfl Table III's "norm" column is
read as this p*: the text says p = ∞ induces ‖∇L‖_1 and p = 1 induces ‖∇L‖_∞, and "L_2-norm is the
most beneficial" picks row (c), the 2 of the column — the column lists the gradient norm (for
p* = 2 both readings agree).

The penalty's parameter gradient is the faithful one, "double backprop": ``autograd.grad(create_graph=True)``
w.r.t. the tap tensors only; the caller backpropagates ``L + penalty`` once. Works under DDP (no
parameter gradient is touched by ``autograd.grad``) and AMP (PyTorch's gradient-penalty recipe: the
loss is scaled for ``autograd.grad`` and the tap gradients unscaled before the norm).

A finite-difference estimate (one extra forward/backward with the taps shifted along the dual
direction of their gradients, instead of the double backward) was tried and removed (issue 14): on
the cpu profile's ResNet-18 (taps x, C2, C3; 64×32, batch 32 of SynthReID) its penalty gradient had
cosine 0.21, 0.15, 0.02 and −0.03 with the double backprop's at steps of 1e-2, 1e-3, 1e-4 and 1e-5
of the taps' size — ReLU and max-pool kinks, which the double backward ignores and a finite shift
crosses, and float32 rounding at small steps — far from the 0.9 it needed to stand for MSGR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from reidlib.losses.softmax import upcast
from reidlib.models.double_backward import tap_gradients_only

__all__ = ["msgr_penalty", "per_sample_norms"]


def per_sample_norms(g: torch.Tensor, norm: float) -> torch.Tensor:
    """‖g[i]‖_norm over all but the first dimension, in float32 (norm 1, 2, inf, or any p ≥ 1)."""
    return torch.linalg.vector_norm(upcast(g).flatten(1), ord=norm, dim=1)


def msgr_penalty(loss: torch.Tensor, taps: Sequence[torch.Tensor] | Mapping[str, torch.Tensor],
                 sigma: float = 1e-2, norm: float = 2.0, scaler=None) -> torch.Tensor:
    """σ · Σ_k mean_i ‖∂(B·loss)/∂t_k[i]‖_norm, differentiable (double backprop), amfl Eq. 7.

    ``loss`` is the batch-mean loss, ``taps`` tensors of its graph with the batch first (the input
    x needs ``requires_grad``). ``scaler`` (a ``torch.amp.GradScaler``) scales the loss for the
    gradient and the gradients are unscaled before the norm, as in PyTorch's AMP gradient-penalty
    recipe; a step with inf/NaN gradients then yields a non-finite penalty, which the scaler skips.
    """
    tensors = list(taps.values()) if isinstance(taps, Mapping) else list(taps)
    if not tensors:
        return loss.new_zeros(())
    batch = tensors[0].shape[0]
    target = loss * batch
    if scaler is not None:
        target = scaler.scale(target)
    with tap_gradients_only():  # no weight gradient is wanted here (models.double_backward)
        grads = torch.autograd.grad(target, tensors, create_graph=True)
    inv_scale = 1.0 / scaler.get_scale() if scaler is not None else 1.0
    total = sum(per_sample_norms(g, norm).mul(inv_scale).mean() for g in grads)
    return sigma * total


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

Two ways to get the penalty's parameter gradient:

* ``msgr_penalty`` (faithful, "double backprop"): ``autograd.grad(create_graph=True)`` w.r.t. the
  tap tensors only; the caller backpropagates ``L + penalty`` once. Works under DDP (no parameter
  gradient is touched by ``autograd.grad``) and AMP (PyTorch's gradient-penalty recipe: the loss is
  scaled for ``autograd.grad`` and the tap gradients unscaled before the norm).
* ``finite_difference_step`` (ours, beyond the paper): with u_k[i] the unit dual direction of
  g_k[i] = ∂(B·L)/∂t_k[i] (u = ∂‖g‖_{p*}/∂g, so ⟨u, g⟩ = ‖g‖_{p*}), the penalty equals the
  directional derivative ``σ/B · d/dh B·L(t + h·u)|_{h=0}``; its parameter gradient is the mixed
  partial ``∇θ σ mean_i‖g_i‖ ≈ σ [∇θ L(t + h·u) − ∇θ L(t)] / h``. One extra forward/backward with
  every tap shifted by ``h·u_k`` (forward hooks on the backbone stages; x shifted directly) replaces
  the double backprop; u is treated as a constant (exact for the gradient, by the envelope of the
  dual norm). Step: ``h = h_rel · min_k mean_i ‖t_k[i]‖₂ / mean_i ‖u_k[i]‖₂`` with ``h_rel = 1e-3``
  (``reidlib.losses.objective.FD_STEP``), i.e. the shift is at most 0.1 % of each tap's own L2 size
  (moved by ≤ √3× when 1 − σ/h would be near 0). BatchNorm running statistics are frozen during
  the shifted pass. On a smooth network the estimate converges to the double backprop as h → 0
  (tested). With ReLU/max-pool it does not: the double backprop drops the kinks (zero second
  derivative), the finite shift crosses some of them, so the two gradients differ at any h (ResNet-18,
  x + C2 + C3: cosine ≈ 0.5–0.7 between the two penalty gradients, the penalty gradient being ≈ 3 %
  of the step's gradient). FD estimates the gradient of σ·[L(t + h·u) − L(t)]/h, a finite-step
  (adversarial) version of the penalty. Cost: one extra forward + backward, ≈ 2× a plain step at
  best. In bf16/fp16 the difference is dominated by rounding — use float32 for this mode.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import torch
from torch import nn

from reidlib.losses.softmax import upcast

__all__ = ["msgr_penalty", "per_sample_norms", "dual_direction", "perturbed_taps", "frozen_bn_stats"]


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
    grads = torch.autograd.grad(target, tensors, create_graph=True)
    inv_scale = 1.0 / scaler.get_scale() if scaler is not None else 1.0
    total = sum(per_sample_norms(g, norm).mul(inv_scale).mean() for g in grads)
    return sigma * total


def dual_direction(g: torch.Tensor, norm: float) -> torch.Tensor:
    """u[i] = ∂‖g[i]‖_norm/∂g[i] (so ⟨u[i], g[i]⟩ = ‖g[i]‖_norm), per sample, float32, no graph."""
    flat = upcast(g.detach()).flatten(1)
    if norm == 1:
        u = flat.sign()
    elif norm == float("inf"):
        idx = flat.abs().argmax(dim=1, keepdim=True)
        u = torch.zeros_like(flat).scatter_(1, idx, flat.gather(1, idx).sign())
    else:
        n = torch.linalg.vector_norm(flat, ord=norm, dim=1, keepdim=True).clamp_min(1e-30)
        u = flat.sign() * (flat.abs() / n).pow(norm - 1)
    return u.view_as(g)


@contextlib.contextmanager
def perturbed_taps(stage_modules: Mapping[str, nn.Module], shifts: Mapping[str, torch.Tensor]) -> Iterator[None]:
    """Add ``shifts[name]`` to the output of ``stage_modules[name]`` during the block (forward hooks)."""
    handles = []
    for name, shift in shifts.items():
        def hook(_module, _inp, out, shift=shift):
            return out + shift.to(out.dtype)
        handles.append(stage_modules[name].register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def frozen_bn_stats(model: nn.Module) -> Iterator[None]:
    """BatchNorm layers keep normalising with batch statistics but leave running stats unchanged."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, m.num_batches_tracked.clone() if m.num_batches_tracked is not None else None)
             for m in bns]
    for m in bns:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (mom, nbt) in zip(bns, saved):
            m.momentum = mom
            if nbt is not None:
                m.num_batches_tracked.copy_(nbt)

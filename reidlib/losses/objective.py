"""One training step of either paper: forward, every loss term, MSGR, backward (no optimiser step).

``loss = Σ_c CE(logits_c) + w_t Σ_e triplet(e) + λ Σ_c R(W_c) + MSGR``:

* CE on every classifier, summed (PCB's convention for the 1 + 6 classifiers of mmps), label
  smoothing ``LossSpec.label_smoothing``;
* batch-hard triplet (margin ``triplet_margin``) on every embedding a classifier sees, weight
  ``triplet_weight`` (skipped when 0);
* exclusivity R(W) (mmps Eq. 4) on every classifier weight, weight ``exclusivity`` = λ;
* MSGR (amfl Eq. 7) on ``msgr_taps`` with ``msgr_sigma`` / ``msgr_norm`` (double backprop); the
  penalised loss is the data loss (CE + triplet; the exclusivity term does not depend on the taps).

Returned floats are the terms as they enter the loss (weighted), ``loss`` their sum, ``acc`` the
top-1 training accuracy of the first classifier (global branch for mmps). Under a GradScaler, a
non-finite MSGR penalty with a finite data loss is a scale overflow in the double backward: the
backward still runs (the scaler then skips the step and lowers the scale), ``msgr`` is reported as
inf/nan and ``loss`` without it.
"""

from __future__ import annotations

import contextlib

import torch

from reidlib.losses.exclusivity import exclusivity
from reidlib.losses.msgr import msgr_penalty
from reidlib.losses.softmax import cross_entropy
from reidlib.losses.triplet import batch_hard_triplet

__all__ = ["training_step", "TAPS"]

TAPS = ("x", "C2", "C3", "C4", "C5")


def _autocast(x: torch.Tensor, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=x.device.type, dtype=dtype)


def _data_loss(out: dict, pids: torch.Tensor, spec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    ce = sum(cross_entropy(lg, pids, spec.label_smoothing) for lg in out["logits"])
    if spec.triplet_weight > 0:
        tri = spec.triplet_weight * sum(batch_hard_triplet(e, pids, spec.triplet_margin)
                                        for e in out["embeddings"])
    else:
        tri = ce.new_zeros(())
    return ce + tri, ce, tri


def _exclusivity(net, spec) -> torch.Tensor:
    if spec.exclusivity <= 0:
        return torch.zeros(())
    return spec.exclusivity * sum(exclusivity(c.weight) for c in net.classifiers)


def _backward(loss: torch.Tensor, scaler) -> None:
    (scaler.scale(loss) if scaler is not None else loss).backward()


def _result(total, ce, tri, excl, pen, out, pids) -> dict[str, float]:
    acc = (out["logits"][0].detach().argmax(1) == pids).float().mean()
    vals = {"loss": total, "ce": ce, "triplet": tri, "exclusivity": excl, "msgr": pen, "acc": acc}
    return {k: float(v.detach()) for k, v in vals.items()}


def training_step(model, x: torch.Tensor, pids: torch.Tensor, spec, scaler=None,
                  autocast_dtype: torch.dtype | None = None) -> dict[str, float]:
    """Forward + losses + MSGR + backward (through ``scaler`` when given); fills ``.grad`` only.

    ``model`` may be wrapped in DDP (MSGR's ``autograd.grad`` touches no parameter gradient, so the one
    backward all-reduces once).

    On CPU, MSGR steps ignore ``autocast_dtype`` and run in float32. With bf16 autocast, the double
    backward through oneDNN gives non-deterministic results and NaNs in later forwards (torch 2.14,
    seen in reidlib's tests), and without oneDNN the native bf16 convolutions are slow: one step of the
    cpu profile's ResNet-18 (taps x, C2, C3; batch 32 at 64×32, one thread) took 13.3 s in bf16
    without oneDNN, 1.9 s in float32 without oneDNN and 0.52 s in float32 with oneDNN (a plain bf16
    step: 0.15 s). Steps without MSGR keep the autocast.
    """
    net = getattr(model, "module", model)
    taps = tuple(spec.msgr_taps) if spec.msgr_sigma > 0 else ()
    unknown = [t for t in taps if t not in TAPS]
    if unknown:
        raise ValueError(f"LossSpec.msgr_taps has unknown names {unknown}; choose from {TAPS}")
    if taps and x.device.type == "cpu":
        autocast_dtype = None  # MSGR steps on CPU run float32: see the docstring
    if "x" in taps:
        x = x.detach().requires_grad_(True)
    with _autocast(x, autocast_dtype):
        out = model(x)
    data, ce, tri = _data_loss(out, pids, spec)
    excl = _exclusivity(net, spec).to(data.device)
    if taps:
        tensors = [x if t == "x" else out["stages"][t] for t in taps]
        pen = msgr_penalty(data, tensors, spec.msgr_sigma, spec.msgr_norm, scaler)
    else:
        pen = data.new_zeros(())
    total = data + excl + pen
    _backward(total, scaler)
    if scaler is not None and not torch.isfinite(pen) and torch.isfinite(data):
        # Scale overflow in the double backward: the scaler sees inf grads and skips this step
        # (lowering the scale); report the finite part so callers don't stop on a routine skip.
        return _result(data + excl, ce, tri, excl, pen, out, pids)
    return _result(total, ce, tri, excl, pen, out, pids)


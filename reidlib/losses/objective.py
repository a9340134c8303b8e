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
import warnings

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


@contextlib.contextmanager
def _no_onednn():
    """oneDNN off: with CPU bf16 autocast, MSGR's double backward through oneDNN kernels gives
    non-deterministic results and NaNs in later forwards in torch 2.14 (seen in reidlib's tests);
    the native CPU kernels are exact. Only CPU + autocast + MSGR steps pay the slowdown."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*oneDNN.*")
        with torch.backends.mkldnn.flags(enabled=False):
            yield


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

    ``model`` may be wrapped in DDP (one backward, so gradients are all-reduced once).
    """
    net = getattr(model, "module", model)
    taps = tuple(spec.msgr_taps) if spec.msgr_sigma > 0 else ()
    unknown = [t for t in taps if t not in TAPS]
    if unknown:
        raise ValueError(f"LossSpec.msgr_taps has unknown names {unknown}; choose from {TAPS}")
    if taps and autocast_dtype is not None and x.device.type == "cpu" and torch.backends.mkldnn.enabled:
        with _no_onednn():
            return training_step(model, x, pids, spec, scaler, autocast_dtype)
    if spec.msgr_mode != "double_backprop":
        raise ValueError(f"LossSpec.msgr_mode must be 'double_backprop' (the finite-difference mode was "
                         f"removed), got {spec.msgr_mode!r}")
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


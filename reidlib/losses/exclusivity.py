"""Exclusivity regularisation of the classifier weights (mmps §3.2.2, Eq. 3–4).

For a weight ``W`` of nn.Linear's shape (classes n × dim d) with unit-norm class vectors
``ŵ_j = W_j / ‖W_j‖``::

    R(W) = Σ_i (Σ_j |ŵ_ji|)²  =  Σ_{j1,j2} ⟨|ŵ_j1|, |ŵ_j2|⟩      (the squared l_{1,2} norm)

i.e. the squared l1 norm over classes, summed over feature dimensions. The pairwise form is Eq. 3
with absolute values (the relaxed exclusivity of Guo et al., mmps ref. [10]); its diagonal
``j1 = j2`` contributes the constant n (unit vectors), which is why mmps drops ``‖W‖_F²`` from
``‖W^T‖_{1,2} − ‖W‖_F²``. The total loss is ``L_norm + λ·R(W)`` (Eq. 4), λ = ``LossSpec.exclusivity``
(1e-7 in mmps). The class vectors are normalised here whatever the head, so R is scale-free.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from reidlib.losses.softmax import upcast

__all__ = ["exclusivity", "pairwise_angles"]


def exclusivity(weight: torch.Tensor) -> torch.Tensor:
    """R(W) = Σ_i (Σ_j |ŵ_ji|)² for ``weight`` of shape (classes × dim), class rows L2-normalised."""
    if weight.dim() != 2:
        raise ValueError(f"exclusivity expects a (classes × dim) weight, got shape {tuple(weight.shape)}")
    w = F.normalize(upcast(weight), dim=1)
    return w.abs().sum(dim=0).pow(2).sum()


def pairwise_angles(weight: torch.Tensor) -> torch.Tensor:
    """Angles in degrees between every pair of class vectors (rows of ``weight``), j1 < j2: what mmps
    Fig. 1 plots ("after applying the normalization, the angles between the column vectors are larger
    and thus less correlated"; its "column vectors" are our rows, nn.Linear stores W transposed).
    Returns the n(n−1)/2 angles in float64, row-major over pairs."""
    if weight.dim() != 2 or weight.shape[0] < 2:
        raise ValueError(f"pairwise_angles expects a (classes ≥ 2 × dim) weight, got shape {tuple(weight.shape)}")
    w = F.normalize(weight.detach().double(), dim=1)
    i, j = torch.triu_indices(w.shape[0], w.shape[0], offset=1)
    cos = (w[i] * w[j]).sum(1).clamp(-1.0, 1.0)
    return torch.rad2deg(torch.arccos(cos))

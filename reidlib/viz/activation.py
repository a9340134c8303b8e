"""Activation maps (amfl §IV-C, Fig. 3 and 4) and Grad-CAM of the embedding.

Activation map (amfl §IV-C, following OSNet's visualisation): for a feature map f (C×H×W),
``a = Σ_c |f_c|`` followed by a *spatial* L2 normalisation ``a / ‖a‖₂`` over the H×W positions.
For display we upsample to the image size (bilinear) and min–max scale to [0, 1] per image (a
choice: the paper does not say; OSNet's code does the same), then blend with the image
(:func:`overlay`, 0.5/0.5 by default) using the jet colour map.

Grad-CAM: a re-id model has no class score to explain, so the target is the cosine similarity of
the eval-mode embedding to a reference embedding (:class:`SimilarityTarget`, e.g. another image of
the same identity) — "which regions make these two images match". Computed with the grad-cam
package (``pytorch_grad_cam.GradCAM``) on a chosen layer (default: the backbone's last stage, C5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["activation_map", "overlay", "activation_figure", "SimilarityTarget", "gradcam_similarity"]


def activation_map(features: torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """B×C×H×W features → B×H×W maps: channel sum of |f|, spatial L2 normalisation (amfl §IV-C).

    With ``size`` = (height, width) the maps are then upsampled (bilinear) and min–max scaled to
    [0, 1] per image for display.
    """
    if features.dim() != 4:
        raise ValueError(f"activation_map expects B×C×H×W features, got shape {tuple(features.shape)}")
    a = features.detach().float().abs().sum(dim=1)
    b, h, w = a.shape
    a = F.normalize(a.reshape(b, h * w), p=2, dim=1).reshape(b, h, w)
    if size is None:
        return a
    a = F.interpolate(a[:, None], size=tuple(size), mode="bilinear", align_corners=False)[:, 0]
    lo = a.amin(dim=(1, 2), keepdim=True)
    hi = a.amax(dim=(1, 2), keepdim=True)
    return (a - lo) / (hi - lo).clamp_min(1e-12)


def overlay(image: np.ndarray, amap: np.ndarray | torch.Tensor, alpha: float = 0.5,
            cmap: str = "jet") -> np.ndarray:
    """Blend an H×W map in [0, 1] (colour-mapped) over an H×W×3 image in [0, 1]; returns H×W×3 in [0, 1]."""
    import matplotlib

    m = amap.detach().cpu().numpy() if isinstance(amap, torch.Tensor) else np.asarray(amap)
    if m.shape != image.shape[:2]:
        raise ValueError(f"overlay: map shape {m.shape} differs from image shape {image.shape[:2]}")
    heat = matplotlib.colormaps[cmap](np.clip(m, 0, 1))[..., :3]
    return np.clip((1 - alpha) * image + alpha * heat, 0.0, 1.0).astype(np.float32)


def activation_figure(images: Sequence[np.ndarray], maps: Mapping[str, Sequence[np.ndarray]],
                      images_as_columns: bool = True, alpha: float = 0.5, title: str | None = None):
    """Grid figure: the images, then one line per entry of ``maps`` (label → one map per image).

    ``images_as_columns`` True lays out amfl Fig. 3 (a line per model); False lays out Fig. 4 (a line
    per image, a column per feature level).
    """
    import matplotlib.pyplot as plt

    labels = ["image", *maps]
    n_img, n_lab = len(images), len(labels)
    rows, cols = (n_lab, n_img) if images_as_columns else (n_img, n_lab)
    h, w = images[0].shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1 * w / h + 0.6, rows * 1.2), squeeze=False)
    for i, img in enumerate(images):
        for j, lab in enumerate(labels):
            ax = axes[j, i] if images_as_columns else axes[i, j]
            ax.imshow(img if lab == "image" else overlay(img, maps[lab][i], alpha))
            ax.set_xticks([])
            ax.set_yticks([])
            if images_as_columns and i == 0:
                ax.set_ylabel(lab, fontsize=8)
            if not images_as_columns and i == 0:
                ax.set_title(lab, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


class SimilarityTarget:
    """Grad-CAM target: cosine similarity of the model's embedding to a fixed reference embedding."""

    def __init__(self, reference: torch.Tensor):
        if reference.dim() != 1:
            raise ValueError(f"SimilarityTarget: reference must be a D vector, got {tuple(reference.shape)}")
        self.reference = reference.detach()

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        out = model_output if model_output.dim() == 1 else model_output.reshape(-1)
        return F.cosine_similarity(out, self.reference.to(out.device, out.dtype), dim=0)


def _default_layer(model: nn.Module) -> nn.Module:
    backbone = getattr(model, "backbone", None)
    if backbone is None or not hasattr(backbone, "layer4"):
        raise ValueError("gradcam_similarity: pass target_layer (the model has no backbone.layer4)")
    return backbone.layer4


def gradcam_similarity(model: nn.Module, images: torch.Tensor, references: torch.Tensor,
                       target_layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM maps (N×H×W in [0, 1], image size) of ``images`` (N×3×H×W) for the similarity of each
    image's embedding to ``references[i]`` (N×D), through ``pytorch_grad_cam.GradCAM``.

    ``model`` must return the B×D embedding in eval mode; it is left in eval mode.
    """
    from pytorch_grad_cam import GradCAM

    if len(images) != len(references):
        raise ValueError(f"gradcam_similarity: {len(images)} images but {len(references)} references")
    layer = target_layer if target_layer is not None else _default_layer(model)
    model.eval()
    targets = [SimilarityTarget(r) for r in references]
    with GradCAM(model=model, target_layers=[layer]) as cam:
        maps = cam(input_tensor=images, targets=targets)
    return np.asarray(maps, dtype=np.float32)

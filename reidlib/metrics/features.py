"""Feature extraction: run a model over a loader, optionally averaging with horizontally flipped images."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm


@torch.no_grad()
def extract_features(
    model: nn.Module,
    loader: Iterable,
    device: str | torch.device = "cpu",
    flip: bool = False,
    desc: str = "features",
) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Features of every image of ``loader`` (batches ``(img, pid, camid, index)``), in loader order.

    The model runs in eval mode (its previous mode is restored) and must return a ``B x D`` tensor.
    With ``flip`` the feature is the mean of the features of the image and of its mirror image
    (flipped along the width). Images are cast to the precision of the model's parameters. Returns
    ``(feats N x D on CPU, pids, camids)``, the features in float32, or float64 for a float64 model
    (the smoke profile); a tqdm bar named ``desc`` shows progress.
    """
    was_training = model.training
    model.eval()
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    feats, pids, camids = [], [], []
    try:
        for batch in tqdm(loader, desc=desc, leave=False):
            img, pid, camid = batch[0], batch[1], batch[2]
            x = img.to(device, dtype)
            f = model(x)
            if not isinstance(f, torch.Tensor) or f.dim() != 2 or f.shape[0] != x.shape[0]:
                raise ValueError(
                    f"model must return a B x D tensor in eval mode, got {type(f).__name__} "
                    f"{tuple(f.shape) if isinstance(f, torch.Tensor) else ''}"
                )
            if flip:
                f = (f + model(torch.flip(x, dims=[-1]))) / 2
            feats.append((f if f.dtype == torch.float64 else f.float()).cpu())
            pids.append(np.asarray(pid).reshape(-1))
            camids.append(np.asarray(camid).reshape(-1))
    finally:
        model.train(was_training)
    if not feats:
        raise ValueError("loader yielded no batches")
    return torch.cat(feats), np.concatenate(pids).astype(np.int64), np.concatenate(camids).astype(np.int64)

"""Person re-ID datasets with torchreid's conventions and on-disk layouts, the built-in SynthReID
generator, the two recipes' transforms and the P×K sampler.

``build_dataset(name, root)``: ``root`` is the argument, else ``$REIDLIB_DATA``, else ``data/``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from reidlib.data.base import Item, ReidDataset, resolve_root
from reidlib.data.cuhk03 import cuhk03
from reidlib.data.dataset import ImageDataset, read_image
from reidlib.data.errors import ReidDataError
from reidlib.data.folder import folder
from reidlib.data.market import dukemtmcreid, market1501
from reidlib.data.msmt17 import msmt17
from reidlib.data.sampler import PKSampler
from reidlib.data.transforms import build_transforms

__all__ = [
    "DATASETS",
    "ImageDataset",
    "Item",
    "PKSampler",
    "ReidDataError",
    "ReidDataset",
    "build_dataset",
    "build_transforms",
    "read_image",
]


def _synthreid(domain: str) -> Callable[..., ReidDataset]:
    def build(root: Path, seed: int = 0, scale: float = 1.0, test_scale: float | None = None) -> ReidDataset:
        from reidlib.data.synthreid import synthreid  # lazy: keeps `python -m` of it warning-free

        return synthreid(root, domain, seed=seed, scale=scale, test_scale=test_scale)

    return build


def _folder(root: Path, path: str | os.PathLike[str] | None = None) -> ReidDataset:
    return folder(Path(path).expanduser() if path is not None else root)


DATASETS: dict[str, Callable[..., ReidDataset]] = {
    "market1501": market1501,
    "dukemtmcreid": dukemtmcreid,
    "cuhk03": lambda root: cuhk03(root, "labeled"),
    "cuhk03-labeled": lambda root: cuhk03(root, "labeled"),
    "cuhk03-detected": lambda root: cuhk03(root, "detected"),
    "msmt17": msmt17,
    "folder": _folder,
    "synthreid": _synthreid("market"),
    "synthreid-duke": _synthreid("duke"),
    "synthreid-cuhk03": _synthreid("cuhk03"),
    "synthreid-msmt17": _synthreid("msmt17"),
}


def build_dataset(name: str, root: str | os.PathLike[str] | None = None, **kw) -> ReidDataset:
    """The dataset ``name`` (see ``DATASETS``) read from ``root``.

    Keyword arguments: ``msmt17``: ``combine_val``; ``folder``: ``path`` (default ``root``);
    ``synthreid*``: ``seed`` (0), ``scale`` (1.0), ``test_scale`` (default ``scale``: the test split's size factor).
    """
    if name not in DATASETS:
        raise ValueError(f"build_dataset: unknown dataset {name!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[name](resolve_root(root), **kw)

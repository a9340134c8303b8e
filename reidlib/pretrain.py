"""The ImageNet stand-in (issue 11): a ResNet backbone pretrained once, on identities no table evaluates.

Both papers fine-tune an ImageNet-pretrained ResNet-50 (amfl §IV-A, mmps §4.2). ImageNet weights
cannot be had offline, and a cpu-profile network from scratch is barely trained after a few epochs,
so the cpu profile starts instead from a backbone pretrained on a disjoint task: re-identification
(cross-entropy + batch-hard triplet, the amfl baseline ``amfl.table1.a``) on a SynthReID *market*
set rendered with generator seed :data:`PRETRAIN_DATA_SEED` — every evaluated SynthReID split
(all four domains) uses generator seed 0, whose identities come from another random stream
(``synthreid._layout``; checked by a test: no look/details of the pretraining identities occurs
in any evaluated split). Only its training split is used.

Where this differs from ImageNet (our choice, to be judged by the calibration): the pretraining
images come from the same renderer as the evaluation images, so the stand-in is closer to
"pretrained on another re-ID dataset" than to ImageNet; the methods still have to learn the
evaluation identities' details from their own training split.

The pretraining is an ordinary run of the trainer (:func:`reidlib.engine.train`) under a
:class:`PretrainSpec`-derived profile named ``pretrain-<hash>``, in ``<root>/runs/`` — so it has the
trainer's run folder, atomic writes, resume after a kill and refusal to mix configurations — and its
backbone (the ``backbone.*`` weights of the final checkpoint, BN statistics included) is written
atomically to ``<root>/<hash>/backbone.pt``, which every cpu row then loads through
``Profile.pretrained``. ``<hash>`` is the digest of the spec and of the run's config hash: a changed
spec or trainer config gives a new folder, never a silently reused stale one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from reidlib.engine.profiles import Profile
from reidlib.utils.io import atomic_torch_save, atomic_write_text

__all__ = ["PRETRAIN_DATA_SEED", "PretrainSpec", "pretrain_profile", "pretrained_backbone"]

PRETRAIN_DATA_SEED = 1000  # SynthReID generator seed of the pretraining set; evaluation uses 0
PRETRAIN_CONFIG = "amfl.table1.a"  # the baseline: GAP C5, BN-FC512-ReLU, CE + batch-hard triplet
DEFAULT_ROOT = Path("results/pretrain")


@dataclass(frozen=True)
class PretrainSpec:
    """How the stand-in is pretrained. ``scale``: SynthReID size factor of the pretraining set (1 → 300
    training identities, ~2.7k images, as the evaluated sets); the rest as :class:`Profile`. The
    default (6 epochs, ~500 iterations) costs about as much as one of today's cpu runs: chosen to fit
    this session's shared machine; a larger/longer pretraining is a calibration candidate of its own.
    bf16 autocast + channels_last: the fastest step measured (``results/bench/cpu_profile.csv``)."""

    depth: int = 18
    image_size: tuple[int, int] = (64, 32)
    data_seed: int = PRETRAIN_DATA_SEED
    scale: float = 1.0
    epochs: int = 6
    lr: float = 1e-3
    milestones: tuple[int, ...] = (5,)
    p: int = 8
    k: int = 4
    cpu_autocast: str | None = "bfloat16"
    channels_last: bool = True
    max_iters_per_epoch: int | None = None

    def digest(self) -> str:
        d = dataclasses.asdict(self)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


def pretrain_profile(spec: PretrainSpec) -> Profile:
    """The trainer profile of ``spec`` (named ``pretrain-<digest>``)."""
    if spec.data_seed == 0:
        raise ValueError("PretrainSpec.data_seed = 0 is the evaluated SynthReID seed; pretraining must use "
                         f"identities no table evaluates (default {PRETRAIN_DATA_SEED})")
    return Profile(name=f"pretrain-{spec.digest()}", recipe="amfl", pretrained=None, image_size=spec.image_size,
                   p=spec.p, k=spec.k, lr=spec.lr, milestones=spec.milestones, epochs=spec.epochs,
                   eval_every=spec.epochs, amp=False, model_overrides={"depth": spec.depth},
                   dataset_kw={"seed": spec.data_seed, "scale": spec.scale},
                   max_iters_per_epoch=spec.max_iters_per_epoch, num_workers=0,
                   cpu_autocast=spec.cpu_autocast, channels_last=spec.channels_last)


def pretrained_backbone(spec: PretrainSpec = PretrainSpec(), root: str | Path = DEFAULT_ROOT,
                        data_root: str | Path | None = None, progress: bool = True) -> Path:
    """Path of the stand-in backbone for ``spec`` — pretrained (or resumed) on first use, then reused.

    Returns ``<root>/<hash>/backbone.pt`` (a state dict of :class:`reidlib.models.ResNetBackbone`,
    loadable with ``pretrained=<path>``); ``<root>/<hash>/pretrain.json`` records the spec, the run
    folder and the stand-in's own rank-1/mAP on its pretraining set's test split.
    """
    from reidlib.engine import train
    from reidlib.engine.checkpoint import load_checkpoint

    root = Path(root)
    prof = pretrain_profile(spec)
    run = train(PRETRAIN_CONFIG, profile=prof, dataset="synthreid", data_root=data_root, seed=0,
                runs_root=root / "runs", progress=progress)
    digest = hashlib.sha256(f"{spec.digest()}-{run.config['hash']}".encode()).hexdigest()[:16]
    out = root / digest / "backbone.pt"
    if out.is_file():
        return out
    ckpt = load_checkpoint(run.run_dir / "checkpoint.pt", run.config["hash"], map_location="cpu")
    state = {k[len("backbone."):]: v.float().contiguous() for k, v in ckpt["model"].items()
             if k.startswith("backbone.")}
    if not state:
        raise RuntimeError(f"{run.run_dir / 'checkpoint.pt'} holds no backbone.* weights")
    atomic_torch_save(state, out)
    m = run.metrics.get("synthreid", {})
    atomic_write_text(out.parent / "pretrain.json", json.dumps(
        {"spec": dataclasses.asdict(spec), "run_dir": str(run.run_dir), "run_hash": run.config["hash"],
         "rank1_on_pretrain_test": m.get("rank1"), "mAP_on_pretrain_test": m.get("mAP")}, indent=1) + "\n")
    return out


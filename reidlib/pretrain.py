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
atomically to ``<root>/<digest>/backbone.pt`` (``<digest>``: the spec's), which every cpu row loads
through ``Profile.pretrained = "standin-<digest>"`` (:func:`reidlib.paths.standin_file`). A changed
spec is another digest, so another folder and another identity for every run fine-tuned from it; a
changed trainer config is refused by the pretraining run's folder, and the weights are re-extracted
whenever ``pretrain.json`` names another pretraining run than the one on disk.

``python -m reidlib.pretrain`` pretrains the cpu profile's stand-in (:data:`CPU_STANDIN`); the
reproduce targets do it before their first run (model creation never trains: it asks for this).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from reidlib.engine.profiles import CPU_STANDIN, PRETRAIN_DATA_SEED, PretrainSpec, Profile
from reidlib.paths import standin_file
from reidlib.utils.io import atomic_torch_save, atomic_write_text

__all__ = ["PRETRAIN_DATA_SEED", "PretrainSpec", "pretrain_profile", "pretrained_backbone", "standin_weights"]

PRETRAIN_CONFIG = "amfl.table1.a"  # the baseline: GAP C5, BN-FC512-ReLU, CE + batch-hard triplet
DEFAULT_ROOT = standin_file(CPU_STANDIN.ref).parents[1]  # results/pretrain of the repo


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
                   cpu_autocast=spec.cpu_autocast, channels_last=spec.channels_last, threads=spec.threads)


def pretrained_backbone(spec: PretrainSpec = CPU_STANDIN, root: str | Path = DEFAULT_ROOT,
                        data_root: str | Path | None = None, progress: bool = True) -> Path:
    """Path of the stand-in backbone for ``spec`` — pretrained (or resumed) on first use, then reused.

    Returns ``<root>/<digest>/backbone.pt`` (a state dict of :class:`reidlib.models.ResNetBackbone`,
    loadable with ``pretrained=<path>``); ``<root>/<digest>/pretrain.json`` records the spec, the run
    folder and the stand-in's own rank-1/mAP on its pretraining set's test split.
    """
    from reidlib.engine import train
    from reidlib.engine.checkpoint import load_checkpoint

    root = Path(root)
    prof = pretrain_profile(spec)
    run = train(PRETRAIN_CONFIG, profile=prof, dataset="synthreid", data_root=data_root, seed=0,
                runs_root=root / "runs", progress=progress)
    out = root / spec.digest() / "backbone.pt"
    record = out.parent / "pretrain.json"
    if out.is_file() and record.is_file() and json.loads(record.read_text()).get("run_hash") == run.config["hash"]:
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



def standin_weights(ref: str, root: str | Path | None = None, progress: bool = True) -> Path:
    """The backbone file of the stand-in that ``Profile.pretrained`` names (``"standin-<digest>"``, see
    :attr:`PretrainSpec.ref`), pretrained on first use. Only the cpu profile's stand-in
    (:data:`reidlib.engine.profiles.CPU_STANDIN`) is known by name; a calibration candidate passes
    its backbone's path instead."""
    if ref != CPU_STANDIN.ref:
        raise ValueError(f"Profile.pretrained {ref!r} names no known stand-in (the cpu profile's is "
                         f"{CPU_STANDIN.ref!r}, {CPU_STANDIN}); pass a backbone file path instead")
    return pretrained_backbone(CPU_STANDIN, root=DEFAULT_ROOT if root is None else root, progress=progress)


if __name__ == "__main__":
    print(standin_weights(CPU_STANDIN.ref))

"""Profiles: *how long and how big* a configuration is trained — one parameter everywhere.

A configuration (:mod:`reidlib.experiments`) says what is trained; its ``recipe`` ("amfl" or
"mmps") picks the paper's optimiser, schedule, sampler and transforms; the profile scales them:

* ``paper`` — each paper's exact hyper-parameters, for a GPU and the real datasets.
  amfl §IV-A: ResNet-50 (ImageNet weights), Adam lr 3.5e-4, ×0.1 at epochs 40 and 70, 120 epochs,
  P×K = 8×4, 256×128 (resize 288×144 + random crop), fp16 training, synchronised BN.
  mmps §4.2: ResNet-50 (ImageNet weights), Adam lr 1e-3, ×0.1 at epochs 70 and 140, 150 epochs,
  P×K = 8×15 (batch 120), 384×128, flip + random erasing.
* ``cpu`` — SynthReID on a 2-core CPU: ResNet-18 from scratch (no ImageNet weights offline), 64×32
  images, 5 epochs, P×K = 8×4, Adam 1e-3, the milestones at the same fractions of training as the paper's
  (amfl: epochs 2 and 3 of 5; mmps: 2 and 5 of 5), evaluation at the end.
* ``smoke`` — seconds: ResNet-18 with narrow heads, 64×32 images, a handful of iterations on a tiny
  SynthReID; for CI and the notebooks under nbval. Its numbers mean nothing, but they must be the same
  on every CPU, so the smoke profile trains and evaluates in float64 (see :class:`Profile`'s ``dtype``).

Choices where the papers are silent: weight decay 5e-4 (torchreid's Adam default, which amfl says
it follows) for both recipes — mmps mentions no weight decay, so at ``paper`` its 5e-4 is our
choice; fp16 training (``amp``) is amfl's, and for mmps, which never mentions it, also our choice
(for speed and memory on a GPU); evaluation every 10 epochs at ``paper``; one classifier learning rate for all layers.
Every field of the profile is written to the run's ``config.json`` and is part of its identity, so
changing a profile here makes old runs refuse to mix (see :mod:`reidlib.engine.runs`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

__all__ = ["Profile", "PROFILES", "get_profile", "UnknownProfileError"]

PROFILES = ("smoke", "cpu", "paper")


class UnknownProfileError(ValueError):
    """A profile name that is not smoke, cpu or paper, or an unknown recipe."""


@dataclass(frozen=True)
class Profile:
    """Everything about a run that is not the configuration or the dataset.

    ``model_overrides`` are applied to the configuration's ``ModelSpec`` with
    ``dataclasses.replace`` (e.g. ``depth=18``); fields the spec lacks are ignored with the spec's
    own value kept. ``dataset_kw`` are passed to ``build_dataset`` for the SynthReID datasets only
    (their size knobs). ``max_iters_per_epoch`` truncates each epoch (``None`` = the sampler's
    full epoch). ``amp``: fp16 autocast + ``GradScaler`` — used on CUDA only, CPU runs stay fp32.
    ``num_workers``: DataLoader workers; 0 on CPU keeps a 2-core machine free for the model and
    makes the resume test's determinism obvious (workers are deterministic too: their seeds come
    from the checkpointed torch RNG).

    ``dtype``: the precision of the model's weights, its inputs and the test embeddings ("float32" or
    "float64"). The smoke profile uses float64 because nbval compares its printed metrics exactly and
    CI runs on whatever CPU comes next: a few float32 steps from scratch, evaluated near chance on a
    tiny set, flip ranks when a kernel set (AVX2 vs AVX-512, MKL vs oneDNN paths) rounds a last bit
    differently, while in float64 those differences (~1e-16 relative) stay many orders of magnitude
    below the printed 0.1 %. The model is created *and initialised* in this precision (float32 normal
    draws differ in their last bits between ATen's vectorised and scalar kernels, float64 ones do not);
    decoding and transforms are exact integer/elementwise operations, and re-ranking follows the
    embeddings' precision, so the whole smoke pipeline is CPU-independent.

    CPU speed levers (issue 11; measured by ``python -m reidlib.bench cpu_profile``): ``cpu_autocast``
    ("bfloat16" or None) runs the forward under ``torch.autocast("cpu", torch.bfloat16)`` on CPU
    (weights, gradients and Adam stay float32); ``channels_last`` puts model and batches in
    ``torch.channels_last``. ``threads``: torch's intra-op threads while the run trains and evaluates
    (None: torch's default). A fixed count makes a run's numbers independent of how many runs share
    the machine, so :func:`reidlib.reproduce.reproduce` may train ``os.cpu_count() // threads`` runs
    at once (on 2 cores, two one-thread runs do about twice the work of one two-thread run). All three
    off by default; :meth:`to_dict` leaves them out while they are at their defaults, so runs trained
    before these fields existed keep their hash.
    """

    name: str
    recipe: str
    pretrained: str | None
    image_size: tuple[int, int]
    p: int
    k: int
    lr: float
    milestones: tuple[int, ...]
    epochs: int
    gamma: float = 0.1
    weight_decay: float = 5e-4
    eval_every: int = 10
    amp: bool = True
    model_overrides: dict = field(default_factory=dict)
    dataset_kw: dict = field(default_factory=dict)
    max_iters_per_epoch: int | None = None
    num_workers: int = 0
    sample_with_replacement: bool = True
    test_batch_size: int = 128
    dtype: str = "float32"
    cpu_autocast: str | None = None
    channels_last: bool = False
    threads: int | None = None

    @property
    def batch_size(self) -> int:
        return self.p * self.k

    def to_dict(self) -> dict:
        """JSON-able form (stored in config.json; part of the run's identity)."""
        d = dataclasses.asdict(self)
        for name in _LATER_FIELDS:
            if d[name] == _LATER_FIELDS[name]:
                del d[name]
        return d

    @property
    def torch_dtype(self) -> torch.dtype:
        """``dtype`` as a torch dtype (float32 or float64)."""
        if self.dtype not in ("float32", "float64"):
            raise UnknownProfileError(f"profile {self.name!r}: dtype {self.dtype!r}; expected 'float32' or 'float64'")
        return getattr(torch, self.dtype)

    @property
    def torch_cpu_autocast(self) -> torch.dtype | None:
        """``cpu_autocast`` as a torch dtype (bfloat16) or None."""
        if self.cpu_autocast not in (None, "bfloat16"):
            raise UnknownProfileError(f"profile {self.name!r}: cpu_autocast {self.cpu_autocast!r}; "
                                      "expected None or 'bfloat16'")
        return None if self.cpu_autocast is None else torch.bfloat16


# Fields added after cpu runs were committed, with their defaults: hashed only when set (see to_dict).
_LATER_FIELDS = {"cpu_autocast": None, "channels_last": False, "threads": None}


# The papers' recipes (the ``paper`` profile), §IV-A of amfl and §4.2 of mmps.
_PAPER = {
    "amfl": Profile(name="paper", recipe="amfl", pretrained="imagenet", image_size=(256, 128),
                    p=8, k=4, lr=3.5e-4, milestones=(40, 70), epochs=120, eval_every=10,
                    num_workers=4),
    "mmps": Profile(name="paper", recipe="mmps", pretrained="imagenet", image_size=(384, 128),
                    p=8, k=15, lr=1e-3, milestones=(70, 140), epochs=150, eval_every=10,
                    num_workers=4),
}


def _scaled_milestones(recipe: str, epochs: int) -> tuple[int, ...]:
    """The paper's milestones at the same fraction of training (amfl 40/120, 70/120; mmps 70/150, 140/150)."""
    paper = _PAPER[recipe]
    return tuple(max(1, round(m * epochs / paper.epochs)) for m in paper.milestones)


# cpu: chosen by timing on the shared 2-core machine (see the engine's closing note). ResNet-18 from
# scratch at 64x32 (SynthReID renders at 128x64; 128x64 costs 4x per image and Table III's 12 runs,
# 11 of them with MSGR double backprop at ~2.2x a plain step, would not fit 30 min), 5 epochs over
# SynthReID (~2.7k training images, ~75 PK batches of 32 per epoch), the paper's milestones at the
# same fractions of training. Learning rate 1e-3 for both recipes: amfl's 3.5e-4 is for fine-tuning
# ImageNet weights and barely moves a network from scratch in 5 epochs (measured: rank-1 5.8 % vs
# 19 % with 1e-3 at 4-6 epochs). P×K = 8×4 for both: mmps's larger K (15 in the paper) halves the
# number of updates of a short run (measured with mmps.table2.ours: rank-1 3.6 % at 8×8, 24 % at 8×4).
# Measured at this profile on SynthReID (seed 0, one thread, the machine shared, load 4-9):
# amfl.table1.a rank-1 17.7 % / mAP 16.3 % (re-ranked 17.1 / 18.5) in 188 s; amfl.table3.c (MSGR on x)
# 18.8 % / 17.2 % in 740 s (load 8); chance is ~0.3 %. Step-cost ratios to the baseline (same batch):
# MSGR on x ≈ 2.2, MSFL full ≈ 2.5, MSFL+MSGR ≈ 4.6, mmps ≈ 0.9, MSGR on C5 only ≈ 1.0.
_CPU_EPOCHS = 5
_CPU_SIZE = (64, 32)
_CPU = {
    "amfl": dict(p=8, k=4, lr=1e-3),
    "mmps": dict(p=8, k=4, lr=1e-3),
}
_SMOKE_SIZE = (64, 32)
_SMOKE_OVERRIDES = {"depth": 18, "embed_dim": 64, "pyramid_channels": 64}
_SMOKE_DATASET = {"scale": 0.05}


def get_profile(profile: str, recipe: str) -> Profile:
    """The :class:`Profile` named ``profile`` ("smoke" | "cpu" | "paper") for ``recipe`` ("amfl" | "mmps")."""
    if recipe not in _PAPER:
        raise UnknownProfileError(f"unknown recipe {recipe!r}; expected one of {sorted(_PAPER)}")
    if profile == "paper":
        return _PAPER[recipe]
    if profile == "cpu":
        return Profile(name="cpu", recipe=recipe, pretrained=None, image_size=_CPU_SIZE,
                       milestones=_scaled_milestones(recipe, _CPU_EPOCHS), epochs=_CPU_EPOCHS,
                       eval_every=_CPU_EPOCHS, amp=True, model_overrides={"depth": 18},
                       num_workers=0, **_CPU[recipe])
    if profile == "smoke":
        return Profile(name="smoke", recipe=recipe, pretrained=None, image_size=_SMOKE_SIZE,
                       p=4, k=4, lr=_PAPER[recipe].lr, milestones=(2,), epochs=2, eval_every=2,
                       amp=False, model_overrides=dict(_SMOKE_OVERRIDES), dataset_kw=dict(_SMOKE_DATASET),
                       max_iters_per_epoch=2, num_workers=0, test_batch_size=128, dtype="float64")
    raise UnknownProfileError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")

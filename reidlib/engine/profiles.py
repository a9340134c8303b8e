"""Profiles: *how long and how big* a configuration is trained — one parameter everywhere.

A configuration (:mod:`reidlib.experiments`) says what is trained; its ``recipe`` ("amfl" or
"mmps") picks the paper's optimiser, schedule, sampler and transforms; the profile scales them:

* ``paper`` — each paper's exact hyper-parameters, for a GPU and the real datasets.
  amfl §IV-A: ResNet-50 (ImageNet weights), Adam lr 3.5e-4, ×0.1 at epochs 40 and 70, 120 epochs,
  P×K = 8×4, 256×128 (resize 288×144 + random crop), fp16 training, synchronised BN.
  mmps §4.2: ResNet-50 (ImageNet weights), Adam lr 1e-3, ×0.1 at epochs 70 and 140, 150 epochs,
  P×K = 8×15 (batch 120), 384×128, flip + random erasing.
* ``cpu`` — SynthReID on a 2-core CPU, calibrated (issue 11; ``results/calibration.md``): ResNet-18
  fine-tuned from a SynthReID stand-in for ImageNet (:data:`CPU_STANDIN`, :mod:`reidlib.pretrain`),
  64×32 images, 8 epochs, P×K = 8×4, Adam 3.5e-4 ×0.1 at epoch 6, bf16 autocast (MSGR steps float32:
  see losses/objective.py; float32 throughout on a CPU without native bf16, where autocast would cost
  instead of pay: :func:`reidlib.engine.trainer.cpu_autocast_dtype`), one thread per run,
  evaluated on a test split three times SynthReID's default (see ``_CPU`` below).
* ``smoke`` — seconds: ResNet-18 with narrow heads, 32×16 images (a quarter of the cpu profile's
  pixels: float64 convolutions are slow, and ``make test`` trains some thirty smoke runs), a handful
  of iterations on a tiny SynthReID; for CI and the notebooks under nbval. Its numbers mean nothing,
  but they must be the same on every CPU, so the smoke profile trains and evaluates in float64 (see
  :class:`Profile`'s ``dtype``).

Choices where the papers are silent: weight decay 5e-4 (torchreid's Adam default, which amfl says
it follows) for both recipes — mmps mentions no weight decay, so at ``paper`` its 5e-4 is our
choice; fp16 training (``amp``) is amfl's, and for mmps, which never mentions it, also our choice
(for speed and memory on a GPU); evaluation every 10 epochs at ``paper``; one classifier learning rate for all layers.
Every field of the profile is written to the run's ``config.json`` and is part of its identity, so
changing a profile here makes old runs refuse to mix (see :mod:`reidlib.engine.runs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import torch

__all__ = ["Profile", "PROFILES", "get_profile", "UnknownProfileError", "PretrainSpec", "CPU_STANDIN",
           "PRETRAIN_DATA_SEED"]

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


PRETRAIN_DATA_SEED = 1000  # SynthReID generator seed of the stand-in's pretraining set; evaluation uses 0


@dataclass(frozen=True)
class PretrainSpec:
    """How an ImageNet stand-in is pretrained (:mod:`reidlib.pretrain`). ``scale``: SynthReID size factor
    of the pretraining set (1 → 300 training identities, ~2.7k images, as the evaluated sets); the rest
    as :class:`Profile`. The defaults (6 epochs, ~500 iterations) are the first calibration
    candidate's; the cpu profile's stand-in is :data:`CPU_STANDIN`.
    bf16 autocast + channels_last: the fastest step measured on the Xeon
    (``results/bench/cpu_profile-avx512-bf16.csv``; float32 on a CPU without native bf16,
    :func:`reidlib.engine.trainer.cpu_autocast_dtype`).
    ``threads`` (1): fixed, so that the stand-in — and every table fine-tuned from it — comes out the
    same whether it is pretrained alone or beside other runs."""

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
    threads: int | None = 1

    def digest(self) -> str:
        d = dataclasses.asdict(self)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]

    @property
    def ref(self) -> str:
        """What :attr:`Profile.pretrained` holds to start from this stand-in: ``"standin-<digest>"``
        (part of every run's identity; resolved to the weights by :func:`reidlib.pretrain.standin_weights`)."""
        return f"standin-{self.digest()}"



# The cpu profile's ImageNet stand-in (issue 11, chosen in results/calibration.md): 900 identities of
# SynthReID seed 1000 (scale 3), 30 epochs (~6,400 iterations of 32 images), lr 1e-3, ×0.1 at epoch 24.
CPU_STANDIN = PretrainSpec(scale=3.0, epochs=30, milestones=(24,))


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


# cpu (issue 11): chosen by measurement, every candidate and why in results/calibration.md
# (`make calibrate`, reidlib/calibration.py). The methods keep what they need — a ResNet with C2..C5 at
# strides 4/8/16/32 — as ResNet-18 at 64×32 (SynthReID renders 128×64: 128×64 costs 4× a step for
# +3 points), fine-tuned like the papers' ImageNet ResNet-50, from the SynthReID stand-in
# (CPU_STANDIN, pretrained once, ~20 min on one core, cached in results/pretrain/): 8 epochs, Adam
# 3.5e-4 (amfl's fine-tuning rate) ×0.1 at epoch 6, P×K = 8×4 (mmps's K = 15 halves the updates of a
# short run). bf16 autocast + channels_last: 1.55× a fp32 step on the Xeon
# (results/bench/cpu_profile-avx512-bf16.csv; a CPU without native bf16 trains in float32:
# trainer.cpu_autocast_dtype); one thread per run, so two runs train side by side on 2 cores with
# the numbers of one at a time. The test
# split is SynthReID's ×3 (test_scale=3: 3,212 market queries against 7,120 gallery images), which
# brings rank-1's evaluation sd from ~1.5 to ~0.9 points. The same recipe serves mmps (its paper lr
# 1e-3 was not calibrated here). Before calibration the cpu profile trained ResNet-18 from scratch
# for 5 epochs (rank-1 ~20 %); those runs are invalid now.
_CPU = dict(pretrained=CPU_STANDIN.ref, image_size=(64, 32), p=8, k=4, lr=3.5e-4, milestones=(6,), epochs=8,
            eval_every=8, model_overrides={"depth": 18}, dataset_kw={"test_scale": 3.0}, num_workers=0,
            cpu_autocast="bfloat16", channels_last=True, threads=1)
_SMOKE_SIZE = (32, 16)
_SMOKE_OVERRIDES = {"depth": 18, "embed_dim": 64, "pyramid_channels": 64}
_SMOKE_DATASET = {"scale": 0.05}


def get_profile(profile: str, recipe: str) -> Profile:
    """The :class:`Profile` named ``profile`` ("smoke" | "cpu" | "paper") for ``recipe`` ("amfl" | "mmps")."""
    if recipe not in _PAPER:
        raise UnknownProfileError(f"unknown recipe {recipe!r}; expected one of {sorted(_PAPER)}")
    if profile == "paper":
        return _PAPER[recipe]
    if profile == "cpu":
        return Profile(name="cpu", recipe=recipe, **_CPU)
    if profile == "smoke":
        return Profile(name="smoke", recipe=recipe, pretrained=None, image_size=_SMOKE_SIZE,
                       p=4, k=4, lr=_PAPER[recipe].lr, milestones=(2,), epochs=2, eval_every=2,
                       amp=False, model_overrides=dict(_SMOKE_OVERRIDES), dataset_kw=dict(_SMOKE_DATASET),
                       max_iters_per_epoch=2, num_workers=0, test_batch_size=128, dtype="float64")
    raise UnknownProfileError(f"unknown profile {profile!r}; expected one of {list(PROFILES)}")

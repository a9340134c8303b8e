"""The one registry of named configurations: every table row of both papers.

A name ``<paper>.<table>.<row>`` (``amfl.table1.e``, ``mmps.table4.softmax``) means the same thing in
the notebooks, the Makefile, the CLI (``python -m reidlib list``) and the results tables. A
configuration says *what* is trained (model and loss); *how long and how big* comes from the
profile (``smoke`` / ``cpu`` / ``paper``, see :mod:`reidlib.engine.profiles`) and *on what* from
the dataset argument of the run.

Choices where the papers are silent (each is a named field, so it can be changed per row):

* amfl's loss: the paper names only the softmax classifier, but samples P×K batches "as in" the
  triplet-loss literature. We train with cross-entropy + batch-hard triplet (margin 0.3) on the
  512-d embedding; ``LossSpec.triplet_weight = 0`` gives softmax alone.
* amfl Table III rows are applied to the ResNet-50 *baseline* (row (a) is the baseline and the
  numbers are below Table IV's MSFL+MSGR row); Table IV's "+MSGR" uses the default taps of row (j):
  the input x, C2 and C3 ("MSGR on the outputs of stage 1 and 2" plus the input).
* mmps Table 4 (cross-domain) is trained with the *standard* softmax (mmps §4.5.1); its "Ours best"
  row is the full model (normalized softmax s=15 + exclusivity λ=1e-7).
* mmps trains with cross-entropy only (no triplet); the multi-patch branch has one classifier per
  stripe plus one for the global branch, as PCB does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

__all__ = [
    "ModelSpec",
    "LossSpec",
    "Experiment",
    "REGISTRY",
    "get",
    "names",
    "register",
    "UnknownExperimentError",
]


@dataclass(frozen=True)
class ModelSpec:
    """Architecture switches. ``arch`` picks the family; the other fields are its switches.

    baseline (amfl §IV-A): ResNet → GAP(C5) → BN → FC(embed_dim) → ReLU → classifier.
    msfl (amfl §III-A, Table I): ``fuse`` = "direct" (1×1 laterals on ``levels``, no top-down path,
      rows b/c), "topdown" (CSIP pyramid on C2..C5, rows d/e/f); ``lateral`` toggles the 1×1
      lateral connections of the top-down path (row d vs e); ``msff_blocks`` = extra bottleneck
      blocks on (P2, P3, P4) (row f: (3, 2, 1)). ``pyramid_channels`` = the paper's 512.
    mmps (mmps §3.1): scale-normalisation blocks on conv2_x..conv5_x, bilinear upsampling, addition;
      ``multi_scale`` False uses conv5_x alone; ``part_pooling`` False drops the stripe branch.
    ``head``: "linear" (plain softmax, mmps Eq. 1) or "normalized" (mmps Eq. 2, scale ``scale``).
    """

    arch: str = "baseline"
    depth: int = 50
    last_stride: int = 2
    embed_dim: int = 512
    # msfl
    fuse: str = "none"
    levels: tuple[str, ...] = ("C5",)
    lateral: bool = True
    msff_blocks: tuple[int, int, int] = (0, 0, 0)
    pyramid_channels: int = 512
    # mmps
    multi_scale: bool = True
    part_pooling: bool = True
    num_parts: int = 6
    # classifier head
    head: str = "linear"
    scale: float = 15.0


@dataclass(frozen=True)
class LossSpec:
    """Loss terms. All weights are ≥ 0; 0 switches a term off.

    ``msgr_taps`` name the tensors whose loss-gradient norm is penalised (amfl Eq. 7): "x" (input),
    "C2".."C5". ``msgr_norm`` is the norm applied to the gradient, i.e. the dual p* of the
    perturbation norm p in amfl Eq. 4 (Table III's "norm" column is read as this p*; see
    :mod:`reidlib.losses.msgr`). ``msgr_mode`` is "double_backprop", the only mode
    since issue 14 removed the finite-difference one; the field stays because it is part of every
    run's config hash (dropping it would invalidate the committed runs).
    """

    label_smoothing: float = 0.0
    triplet_weight: float = 0.0
    triplet_margin: float = 0.3
    exclusivity: float = 0.0
    msgr_taps: tuple[str, ...] = ()
    msgr_sigma: float = 0.0
    msgr_norm: float = 2.0
    msgr_mode: str = "double_backprop"


@dataclass(frozen=True)
class Experiment:
    """One named configuration = one row of one table (or one point of a sweep)."""

    name: str
    paper: str  # "amfl" | "mmps"
    table: str  # "table1", "fig4", "sigma", ...
    row: str
    description: str
    model: ModelSpec
    loss: LossSpec
    recipe: str  # training recipe: "amfl" | "mmps" (learning rate, schedule, sampler, transforms)
    rerank: bool = False  # evaluate with k-reciprocal re-ranking as the headline number
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict:
        """JSON-able form (stored in each run's config.json)."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Hash of everything that changes what is trained (name and description excluded)."""
        d = self.to_dict()
        for k in ("name", "description", "table", "row", "extra"):
            d.pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


class UnknownExperimentError(KeyError):
    """Raised for a configuration name that is not in the registry."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    if exp.name in REGISTRY:
        raise ValueError(f"duplicate experiment name {exp.name!r}")
    REGISTRY[exp.name] = exp
    return exp


def get(name: str) -> Experiment:
    """Look a configuration up by name; unknown names get the closest matches in the error."""
    try:
        return REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=5, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise UnknownExperimentError(
            f"unknown configuration {name!r}.{hint} `python -m reidlib list` prints all {len(REGISTRY)}."
        ) from None


def names(prefix: str = "") -> list[str]:
    """Registered names starting with ``prefix`` (e.g. ``"amfl.table1."``), in registration order."""
    return [n for n in REGISTRY if n.startswith(prefix)]


# --------------------------------------------------------------------------------------------------
# amfl — Adversarial Multi-scale Feature Learning
# --------------------------------------------------------------------------------------------------
AMFL_LOSS = LossSpec(triplet_weight=1.0, triplet_margin=0.3)
BASELINE = ModelSpec(arch="baseline")
MSFL_FULL = ModelSpec(
    arch="msfl", fuse="topdown", levels=("C2", "C3", "C4", "C5"), lateral=True, msff_blocks=(3, 2, 1)
)
MSGR_DEFAULT = dataclasses.replace(
    AMFL_LOSS, msgr_taps=("x", "C2", "C3"), msgr_sigma=1e-2, msgr_norm=2.0
)


def _amfl(table: str, row: str, description: str, model: ModelSpec, loss: LossSpec = AMFL_LOSS,
          rerank: bool = False, **extra) -> Experiment:
    return register(Experiment(f"amfl.{table}.{row}", "amfl", table, row, description, model, loss,
                               recipe="amfl", rerank=rerank, extra=extra))


# Table I — ablation of MSFL on Market-1501.
_amfl("table1", "a", "ResNet-50 baseline (GAP C5, BN-FC512-ReLU)", BASELINE)
_amfl("table1", "b", "direct fuse C4 and C5 (1x1 laterals, no top-down)",
      ModelSpec(arch="msfl", fuse="direct", levels=("C4", "C5")))
_amfl("table1", "c", "direct fuse C2..C5 (1x1 laterals, no top-down)",
      ModelSpec(arch="msfl", fuse="direct", levels=("C2", "C3", "C4", "C5")))
_amfl("table1", "d", "fuse P2..P5, top-down without laterals",
      ModelSpec(arch="msfl", fuse="topdown", levels=("C2", "C3", "C4", "C5"), lateral=False))
_amfl("table1", "e", "fuse P2..P5, top-down with laterals (CSIP)",
      ModelSpec(arch="msfl", fuse="topdown", levels=("C2", "C3", "C4", "C5"), lateral=True))
_amfl("table1", "f", "fuse F2..P5 (CSIP + MSFF 3/2/1 blocks) = MSFL", MSFL_FULL)

# Table II — complexity.
_amfl("table2", "a", "ResNet-50 baseline", BASELINE)
_amfl("table2", "b", "ResNet-50, last stride 1", dataclasses.replace(BASELINE, last_stride=1))
_amfl("table2", "c", "MSFL: fuse F2..P5", MSFL_FULL)

# Table III — MSGR ablation (on the baseline).
_T3 = [
    ("a", (), 2.0, 0.0, "ResNet-50 baseline, no MSGR"),
    ("b", ("x",), 1.0, 1e-2, "||grad_x L||_1, sigma 1e-2"),
    ("c", ("x",), 2.0, 1e-2, "||grad_x L||_2, sigma 1e-2"),
    ("d", ("x",), float("inf"), 1e-2, "||grad_x L||_inf, sigma 1e-2"),
    ("e", ("x",), 2.0, 1e-1, "||grad_x L||_2, sigma 1e-1"),
    ("f", ("x",), 2.0, 1e-3, "||grad_x L||_2, sigma 1e-3"),
    ("g", ("C2",), 2.0, 1e-2, "||grad_C2 L||_2"),
    ("h", ("C5",), 2.0, 1e-2, "||grad_C5 L||_2"),
    ("i", ("x", "C2"), 2.0, 1e-2, "x + C2"),
    ("j", ("x", "C2", "C3"), 2.0, 1e-2, "x + C2 + C3 (default MSGR)"),
    ("k", ("x", "C2", "C3", "C4"), 2.0, 1e-2, "x + C2..C4"),
    ("l", ("x", "C2", "C3", "C4", "C5"), 2.0, 1e-2, "x + C2..C5"),
]
for _row, _taps, _norm, _sigma, _desc in _T3:
    _amfl("table3", _row, _desc, BASELINE,
          dataclasses.replace(AMFL_LOSS, msgr_taps=_taps, msgr_norm=_norm, msgr_sigma=_sigma))

# Table IV — components stacked on ResNet-50, per dataset (the dataset is a run argument).
_amfl("table4", "resnet50", "ResNet-50 baseline", BASELINE)
_amfl("table4", "csip", "+CSIP (top-down pyramid with laterals)",
      ModelSpec(arch="msfl", fuse="topdown", levels=("C2", "C3", "C4", "C5"), lateral=True))
_amfl("table4", "msff", "+MSFF (= MSFL)", MSFL_FULL)
_amfl("table4", "msgr", "+MSGR (x, C2, C3; p*=2; sigma 1e-2)", MSFL_FULL, MSGR_DEFAULT)
_amfl("table4", "rerank", "+re-ranking (k-reciprocal, k1=20 k2=6 lambda=0.3)", MSFL_FULL, MSGR_DEFAULT,
      rerank=True)

# Sigma sweep (beyond Table III's three points), on the baseline with the x tap.
for _s in ("1e-4", "3e-4", "1e-3", "3e-3", "1e-2", "3e-2", "1e-1"):
    _amfl("sigma", _s, f"||grad_x L||_2, sigma {_s}", BASELINE,
          dataclasses.replace(AMFL_LOSS, msgr_taps=("x",), msgr_sigma=float(_s), msgr_norm=2.0))

# --------------------------------------------------------------------------------------------------
# mmps — Multi-scale Multi-patch with Exclusivity Regularized Softmax
# --------------------------------------------------------------------------------------------------
MMPS_NET = ModelSpec(arch="mmps", multi_scale=True, part_pooling=True, num_parts=6,
                     head="normalized", scale=15.0)
MMPS_LOSS = LossSpec(exclusivity=1e-7)


def _mmps(table: str, row: str, description: str, model: ModelSpec = MMPS_NET,
          loss: LossSpec = MMPS_LOSS, **extra) -> Experiment:
    return register(Experiment(f"mmps.{table}.{row}", "mmps", table, row, description, model, loss,
                               recipe="mmps", extra=extra))


_mmps("table1", "ours", "full model on CUHK03 (labeled / detected): multi-scale multi-patch, "
      "normalized softmax s=15, exclusivity 1e-7")
_mmps("table2", "ours", "full model on Market-1501 (single and multi query)")
_mmps("table3", "ours", "full model on DukeMTMC-reID")
_mmps("table4", "softmax", "multi-scale multi-patch with the standard softmax, cross-domain",
      dataclasses.replace(MMPS_NET, head="linear"), LossSpec())
_mmps("table4", "best", "full model (\"Ours best\"), cross-domain")
_mmps("ablation", "full", "full model")
_mmps("ablation", "no_parts", "without part pooling (global branch only)",
      dataclasses.replace(MMPS_NET, part_pooling=False))
_mmps("ablation", "no_multiscale", "without multi-scale (conv5_x only)",
      dataclasses.replace(MMPS_NET, multi_scale=False))
_mmps("ablation", "lambda0", "normalized softmax, lambda = 0", loss=LossSpec())
_mmps("ablation", "softmax", "standard softmax, no exclusivity",
      dataclasses.replace(MMPS_NET, head="linear"), LossSpec())

# Fig. 4 — rank-1 against lambda.
for _lam in ("0", "1e-9", "1e-8", "1e-7", "1e-6", "1e-5", "1e-4"):
    _mmps("fig4", f"lam{_lam}", f"full model, exclusivity lambda = {_lam}",
          loss=LossSpec(exclusivity=float(_lam)))

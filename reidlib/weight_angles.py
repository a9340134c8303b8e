"""mmps Fig. 1, measured: the angles between the class weight vectors of the trained classifiers.

What the paper says (mmps §1 and the caption of Fig. 1, whose plot the text extraction lacks): "we
further reinforce the irrelevance among the column vectors of the weight matrix via exclusivity
regularization […] As shown in Fig. 1, after applying the normalization, the angles between the
column vectors are larger and thus less correlated." Caption: "The figure is plotted according to our
final models trained on Market-1501 with or without exclusivity regularization." §3.2.2 gives the
reason: the exclusivity term (Eq. 3–4) makes any two class directions ``W_j1``, ``W_j2`` "less
correlated" (Fig. 3). The paper gives no number, so its claims are directions.

What we measure: for each classifier of a run (read from its ``checkpoint.pt``, weights_only), the
angle between every pair of class weight vectors (:func:`reidlib.losses.pairwise_angles`; mmps's
"column vectors" are the rows of our nn.Linear-shaped weights; the angle does not depend on the
vectors' norms, so the plain and the normalized softmax are measured alike). Pairs are taken *within*
one classifier only — the global and the six part classifiers act on different embeddings, so an
angle across them means nothing —, and a run's statistics pool the pairs of all its classifiers
(global + 6 parts = 7 for the full model, 1 for ``no_parts``; every classifier has the same classes,
so each branch weighs the same). Statistics (:data:`STATISTICS`): the mean angle, the mean |cos|
(correlation, whatever its sign), the share of pairs below :data:`NARROW` = 60° (cos > 0.5), the
smallest angle, and — beyond the figure — the exclusivity term itself, R(W) of Eq. 4
(:func:`reidlib.losses.exclusivity`, mean over the classifiers): what λ·R(W) minimises, so whether the
regulariser reached its own objective.

Where the paper is ambiguous (our reading, stated in the notebook too): the caption compares models
*with and without exclusivity* (our rows ``full`` vs ``lambda0``, both with the normalized softmax),
while the sentence credits "the normalization" (``lambda0`` vs ``softmax``, the plain softmax): we
test both as separate claims (:data:`CLAIMS`), each in both of the paper's words — "angles larger"
(mean angle up) and "less correlated" (mean abs(cos) down); the two can disagree when angles are obtuse.
Each claim's Δ pairs the two rows seed by seed, with a Student-t 95 % interval over the seeds
(:func:`reidlib.stats.seed_delta`: a run has one value, there are no test queries to resample), and
gets a verdict from that interval alone (:func:`reidlib.stats.verdict`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from reidlib import experiments, paths, tables
from reidlib.engine.checkpoint import load_checkpoint
from reidlib.engine.runs import CHECKPOINT
from reidlib.losses import exclusivity, pairwise_angles
from reidlib.stats import VERDICTS, DeltaCI, seed_delta, spread, verdict
from reidlib.utils.io import atomic_write_text

__all__ = ["FIG1", "NARROW", "STATISTICS", "CLAIMS", "PAPER_SAYS", "Claim", "classifier_weights",
           "angle_statistics", "run_angles", "weight_angles", "AnglesResult"]

FIG1 = "mmps.fig1"
#: Pairs closer than this (degrees; cos > 0.5) count as "narrow" in the share statistic.
NARROW = 60.0
#: The per-run statistics (column names) and the decimals they are printed with (fine enough for the
#: small differences λ = 1e-7 makes).
STATISTICS = {"mean angle (°)": 2, "mean abs(cos)": 4, f"share < {NARROW:.0f}° (%)": 2, "min angle (°)": 2,
              "R(W)": 0}
PAPER_SAYS = ("\"As shown in Fig. 1, after applying the normalization, the angles between the column vectors are "
              "larger and thus less correlated.\" (mmps §1) — \"The figure is plotted according to our final "
              "models trained on Market-1501 with or without exclusivity regularization.\" (Fig. 1 caption)")
_BIN = 1.0  # degrees per histogram bin


@dataclass(frozen=True)
class Claim:
    """A paper claim about two rows: ``statistic`` of ``row`` minus that of ``reference`` has the sign
    of ``direction`` (+1: larger)."""

    what: str
    row: str
    reference: str
    statistic: str
    direction: int


CLAIMS = (
    Claim("with exclusivity the angles are larger (Fig. 1 caption)", "mmps.ablation.full", "mmps.ablation.lambda0",
          "mean angle (°)", +1),
    Claim("with exclusivity the class vectors are less correlated (Fig. 1 caption, §3.2.2)", "mmps.ablation.full",
          "mmps.ablation.lambda0", "mean abs(cos)", -1),
    Claim("after the normalization the angles are larger (§1)", "mmps.ablation.lambda0", "mmps.ablation.softmax",
          "mean angle (°)", +1),
    Claim("after the normalization the class vectors are less correlated (§1)", "mmps.ablation.lambda0",
          "mmps.ablation.softmax", "mean abs(cos)", -1),
)


def classifier_weights(run_dir: str | Path) -> list[torch.Tensor]:
    """The class weight matrices (classes × dim) of a run's classifiers, in the model's order (global,
    then parts top to bottom), from ``<run_dir>/checkpoint.pt`` read with ``weights_only=True``."""
    file = Path(run_dir) / CHECKPOINT
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} not found: mmps Fig. 1 reads the classifier weights from a trained run's checkpoint, and "
            "checkpoints are not in git (a committed run keeps its metrics and log only). Delete "
            f"{Path(run_dir)} and run `make reproduce-mmps-fig1` again to retrain it (same seed, same numbers on "
            "this machine), or copy its checkpoint.pt there from the machine that trained it.")
    state = load_checkpoint(file).get("model")
    found = {}
    for key, value in (state or {}).items():
        m = re.fullmatch(r"classifiers\.(\d+)\.weight", key)
        if m:
            found[int(m.group(1))] = value
    if not found:
        raise ValueError(f"{file} holds no classifier weights (model keys 'classifiers.<i>.weight' expected)")
    return [found[i].detach().to(torch.float64) for i in sorted(found)]


def angle_statistics(angles: np.ndarray) -> dict[str, float]:
    """The angle :data:`STATISTICS` of pairwise angles in degrees (and the number of pairs)."""
    a = np.asarray(angles, dtype=np.float64)
    if a.size == 0:
        raise ValueError("angle_statistics: no angles")
    names = list(STATISTICS)
    return {"pairs": int(a.size), names[0]: float(a.mean()), names[1]: float(np.abs(np.cos(np.deg2rad(a))).mean()),
            names[2]: float(100.0 * (a < NARROW).mean()), names[3]: float(a.min())}


def run_angles(run_dir: str | Path) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per classifier (``branch`` 0 = global, 1.. = parts; classes, pairs and
    :data:`STATISTICS` of its weight) and every classifier's angles pooled."""
    rows, pooled = [], []
    for branch, w in enumerate(classifier_weights(run_dir)):
        a = pairwise_angles(w).numpy()
        rows.append({"branch": branch, "classes": int(w.shape[0]), **angle_statistics(a),
                     "R(W)": float(exclusivity(w))})
        pooled.append(a)
    return pd.DataFrame(rows), np.concatenate(pooled)


def _pooled(per_branch: pd.DataFrame) -> dict[str, float]:
    """A run's statistics over all its classifiers' pairs, from the per-classifier ones (equal pair
    counts: the means of the means are the pooled means, the minimum the minimum; R(W) the mean over
    classifiers)."""
    if per_branch["pairs"].nunique() != 1:
        raise ValueError(f"classifiers with different class counts: {sorted(per_branch['classes'].unique())}")
    out = {"classifiers": len(per_branch), "classes": int(per_branch["classes"].iloc[0]),
           "pairs": int(per_branch["pairs"].sum())}
    out.update({n: float(per_branch[n].min() if n.startswith("min") else per_branch[n].mean()) for n in STATISTICS})
    return out


@dataclass
class AnglesResult:
    """mmps Fig. 1 measured: ``branches`` (one row per run and classifier), ``runs`` (one per run,
    pooled over its classifiers), ``summary`` (one per configuration: mean and sd over seeds, Δ against
    the first row with its t-interval), ``claims`` (one per :data:`CLAIMS` entry with its verdict),
    ``histogram`` (density of the angles per configuration, pooled over seeds and classifiers) and the
    files written."""

    table: tables.Table
    branches: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    claims: pd.DataFrame
    histogram: pd.DataFrame
    csv: Path
    md: Path

    def show(self) -> str:
        """The summary as Markdown: mean ± sd over seeds, Δ against the first row [95 % t-interval]."""
        return _show(self.summary)

    def counts(self) -> str:
        """What was measured, per configuration: seeds, classifiers, classes, pairs per run."""
        return self.summary[["configuration", "seeds", "classifiers", "classes", "pairs"]].to_markdown(index=False)

    def findings(self) -> str:
        """The claims' verdict sentences as a Markdown list."""
        return "\n".join("- " + s for s in _sentences(self.claims))


def _histogram(name: str, angles: np.ndarray) -> pd.DataFrame:
    edges = np.arange(0.0, 180.0 + _BIN, _BIN)
    counts, _ = np.histogram(angles, bins=edges)
    return pd.DataFrame({"configuration": name, "angle (°)": edges[:-1] + _BIN / 2,
                         "density": counts / (counts.sum() * _BIN)})


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    ref = runs["configuration"].iloc[0]
    base = runs[runs["configuration"] == ref].set_index("seed")
    out = []
    for name, g in runs.groupby("configuration", sort=False):
        g = g.set_index("seed")
        rec = {"configuration": name, "description": experiments.get(name).description,
               "seeds": ",".join(map(str, g.index)), "classifiers": int(g["classifiers"].iloc[0]),
               "classes": int(g["classes"].iloc[0]), "pairs": int(g["pairs"].iloc[0]), "reference": ref}
        for stat in STATISTICS:
            rec[stat], rec[f"{stat} sd"] = spread(g[stat])
            ci = seed_delta(base.loc[g.index, stat], g[stat]) if name != ref else DeltaCI(*[np.nan] * 3)
            rec[f"Δ {stat}"], rec[f"Δ {stat} low"], rec[f"Δ {stat} high"] = ci.delta, ci.low, ci.high
        out.append(rec)
    return pd.DataFrame(out)


def _claims(runs: pd.DataFrame) -> pd.DataFrame:
    out = []
    for c in CLAIMS:
        a, b = (runs[runs["configuration"] == n].set_index("seed") for n in (c.row, c.reference))
        seeds = a.index.intersection(b.index)
        ci = seed_delta(b.loc[seeds, c.statistic], a.loc[seeds, c.statistic]) if len(seeds) else None
        out.append({"claim": c.what, "row": c.row, "reference": c.reference, "statistic": c.statistic,
                    "paper direction": "larger" if c.direction > 0 else "smaller", "seeds": len(seeds),
                    "reference value": float(b.loc[seeds, c.statistic].mean()) if len(seeds) else np.nan,
                    "Δ": ci.delta if ci else np.nan, "Δ low": ci.low if ci else np.nan,
                    "Δ high": ci.high if ci else np.nan,
                    "verdict": verdict(ci, float(c.direction), min_claim=0) if ci else "not run"})
    return pd.DataFrame(out)


def _sentences(claims: pd.DataFrame) -> list[str]:
    out = []
    for _, r in claims.iterrows():
        short = f"{r['row'].rsplit('.', 1)[1]} − {r['reference'].rsplit('.', 1)[1]}"
        if r["verdict"] == "not run":
            out.append(f"{r['claim']}: not run ({short} needs both rows).")
            continue
        how = f"95 % t-interval over {r['seeds']} seeds" if r["seeds"] > 1 else "one seed, no interval"
        ref, d = r["reference value"], STATISTICS[r["statistic"]]
        size = f"{100 * r['Δ'] / ref:+.2f} % of {r['reference'].rsplit('.', 1)[1]}'s {ref:.{d}f}" if ref else "—"
        out.append(f"{r['claim']}: {r['statistic']} {short} = {_delta(r['Δ'], r['Δ low'], r['Δ high'], r['statistic'])}"
                   f" ({how}; {size}; paper: {r['paper direction']}) → **{r['verdict']}**.")
    judged = claims[claims["verdict"] != "not run"]
    if len(judged):
        tally = [f"{int((judged['verdict'] == v).sum())} {v}" for v in VERDICTS]
        out.append(f"Of {len(judged)} claims: {', '.join(tally)}.")
    return out


def _delta(delta: float, low: float, high: float, statistic: str) -> str:
    """``"+1.2 [+0.3, +2.1]"`` (95 % t-interval) in the statistic's decimals; "+1.2" with one seed (no
    interval); "—" for the reference row itself."""
    d = STATISTICS[statistic]
    if np.isnan(delta):
        return "—"
    return f"{delta:+.{d}f}" if np.isnan(low) else DeltaCI(delta, low, high).format(d)


def _show(summary: pd.DataFrame) -> str:
    df = pd.DataFrame({"configuration": summary["configuration"], "seeds": summary["seeds"]})
    for stat, d in STATISTICS.items():
        df[stat] = [f"{m:.{d}f}" if np.isnan(s) else f"{m:.{d}f} ± {s:.{d}f}"
                    for m, s in zip(summary[stat], summary[f"{stat} sd"])]
    for stat in STATISTICS:
        df[f"Δ {stat}"] = [_delta(v, lo, hi, stat)
                           for v, lo, hi in zip(*(summary[f"Δ {stat}{s}"] for s in ("", " low", " high")))]
    return df.to_markdown(index=False)


def weight_angles(*, profile: str = "smoke", dataset: str | Sequence[str] = "synthreid", data_root: str | None = None,
                  seeds: Sequence[int] = (0,), device: str = "auto", rows: Sequence[str] | None = None,
                  output_dir: str | None = None) -> AnglesResult:
    """Train (or reuse, through :func:`reidlib.reproduce.train_runs` — the runs of
    ``make reproduce-mmps-ablation``) every row of mmps Fig. 1 (the ablation's rows; at the smoke
    profile its ``smoke_rows``) for every seed, measure the angles between each run's class weight
    vectors, judge :data:`CLAIMS` and write ``<results>/mmps/fig1.{csv,md}`` (the summary)."""
    from reidlib.reproduce import resolve_datasets, train_runs

    t = tables.get(FIG1)
    names = tables.rows(FIG1, rows, profile)
    datasets = resolve_datasets(dataset, FIG1, profile)
    if len(datasets) != 1:
        raise ValueError(f"dataset {dataset!r}: mmps Fig. 1 is drawn from one training set, got {datasets}")
    trained = train_runs([(n, datasets[0], int(s)) for n in names for s in seeds], profile=profile,
                         data_root=data_root, device=device)
    branches, runs, hists = [], [], []
    for name in names:
        pooled = []
        for seed in seeds:
            run = trained[(name, datasets[0], int(seed))]
            per_branch, angles = run_angles(run.run_dir)
            branches.append(per_branch.assign(configuration=name, seed=int(seed)))
            runs.append({"configuration": name, "seed": int(seed), "run_dir": paths.relative(run.run_dir),
                         **_pooled(per_branch)})
            pooled.append(angles)
        hists.append(_histogram(name, np.concatenate(pooled)))
    runs_df = pd.DataFrame(runs)
    branches_df = pd.concat(branches, ignore_index=True)
    branches_df = branches_df[["configuration", "seed", *[c for c in branches_df if c not in ("configuration", "seed")]]]
    summary, claims = _summary(runs_df), _claims(runs_df)
    stem = paths.results_root(profile, output_dir) / t.paper / paths.table_stem(t.short, profile)
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    atomic_write_text(csv, summary.to_csv(index=False, float_format="%.5f"))
    per_run = runs_df.drop(columns=["run_dir"]).to_markdown(index=False, floatfmt=".3f")
    atomic_write_text(md, (
        f"### {t.title}\n\nProfile `{profile}`; ran on {datasets[0]}; "
        + (f"seeds {','.join(map(str, seeds))} (mean ± sd over seeds)" if len(seeds) > 1 else f"seed {seeds[0]} (one "
           "run per row)") + ". Angles between every pair of class weight vectors within each classifier (global + parts), "
        "pooled over a run's classifiers. Δ: a row minus the first row, with a 95 % Student-t interval over the "
        "seed-paired differences.\n\n"
        f"The paper: {PAPER_SAYS}. It gives no numbers.\n\n{_show(summary)}\n\n"
        + "\n".join("- " + s for s in _sentences(claims))
        + f"\n\nPer run (pooled over its classifiers):\n\n{per_run}\n"))
    return AnglesResult(t, branches_df, runs_df, summary, claims, pd.concat(hists, ignore_index=True), csv, md)

"""What the papers say their components do, measured on the trained runs (issue 13).

Each mechanism is a curve table (:mod:`reidlib.curves`): the runs of a few configurations of a
paper table (trained or reused exactly as :func:`reidlib.reproduce.reproduce` does), each
evaluated with its queries perturbed by an amount ``x``, statistics over seeds and queries,
findings sentences with a verdict per claim. Evaluations are cached in the runs' metrics.json /
per_query.json, so committed runs answer again without their checkpoints.

* :func:`robustness` — amfl §III-B: MSGR is the first-order worst case of a norm-bounded
  perturbation of the input (Eq. 1–4), so a model trained with it should lose less rank-1 / mAP
  when its queries are attacked (:mod:`reidlib.attacks`: FGSM, PGD; L∞ and L2).
* :func:`misalignment` — amfl §I, Fig. 1: detector misalignment "causes the large scale and shift
  variance" that multi-scale features (CSIP, MSFL) are built for, so they should lose less when the
  query's box is shifted or rescaled (:mod:`reidlib.engine.misalignment`: queries cut again from
  SynthReID's scenes).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reidlib import paths, tables
from reidlib.curves import RECORD_COLUMNS, curve_sentences, curve_statistics, format_curve, write_curve
from reidlib.paths import results_root, table_stem
from reidlib.reproduce import resolve_datasets, train_runs
from reidlib.stats import seed_delta, spread, verdict

__all__ = ["CurveResult", "curve_table", "robustness", "ATTACKS", "ROBUSTNESS_CLAIM", "gradient_norms",
           "gradient_sentences", "GRADIENT_CLAIM", "misalignment",
           "MISALIGNMENT_CLAIM"]


@dataclass
class CurveResult:
    """What a mechanism notebook gets back: the declaration, the statistics, the records and files."""

    table: tables.Table
    frame: pd.DataFrame
    records: pd.DataFrame
    sentences: list[str]
    x_label: str
    csv: Path
    md: Path

    def show(self, digits: int = 1) -> str:
        """The statistics as Markdown (what the notebooks print)."""
        return format_curve(self.frame, self.x_label, digits)

    def findings(self) -> str:
        return "\n".join("- " + s for s in self.sentences)


def curve_table(table_id: str, evaluate: Callable[[Path], list[dict]], *, x_label: str, claim: str,
                profile: str = "smoke", dataset: str = "synthreid", data_root: str | None = None,
                seeds: Sequence[int] = (0,), device: str = "auto", rows: Sequence[str] | None = None,
                output_dir: str | None = None, notes: Sequence[str] = (),
                per_run: Callable[[dict[tuple[str, str, int], Path], str], list[str]] | None = None) -> CurveResult:
    """Train or reuse the table's rows (the first is the reference) on one dataset for every seed,
    call ``evaluate(run_dir)`` on each run — a list of ``{group?, x, rank1, mAP, hits, ap}`` — and
    write ``<results>/<paper>/<short>.{csv,md}`` with the statistics and the verdicts on ``claim``
    (every row but the reference loses less than it: :func:`reidlib.curves.curve_sentences`), then
    ``notes`` and the sentences ``per_run({(configuration, dataset, seed): run_dir}, reference)`` makes."""
    t = tables.get(table_id)
    names = tables.rows(table_id, rows, profile)
    datasets = resolve_datasets(dataset, table_id, profile)
    if len(datasets) != 1:
        raise ValueError(f"{table_id}: one dataset at a time, got {datasets}")
    runs = train_runs([(n, datasets[0], int(s)) for n in names for s in seeds], profile=profile, data_root=data_root,
                      device=device)
    recs = [{"configuration": n, "seed": s, **r} for (n, _, s), run in runs.items() for r in evaluate(run.run_dir)]
    records = pd.DataFrame(recs, columns=(["group"] if recs and "group" in recs[0] else []) + RECORD_COLUMNS)
    frame = curve_statistics(records, names[0])
    sentences = curve_sentences(frame, claim, names[1:], x_label=x_label) + list(notes)
    if per_run is not None:
        sentences += per_run({k: run.run_dir for k, run in runs.items()}, names[0])
    if profile == "smoke":
        sentences.append("The smoke profile trains for a few iterations: its numbers test the plumbing, not the papers.")
    stem = results_root(profile, output_dir) / t.paper / table_stem(t.short, profile)
    title = f"{t.title} (profile `{profile}`, {datasets[0]}, seeds {', '.join(map(str, seeds))}; reference {names[0]})"
    csv, md = write_curve(frame, stem, title, x_label, sentences)
    return CurveResult(t, frame, records, sentences, x_label, csv, md)


#: The attacks of :func:`robustness`: label → (norm, steps). FGSM is one step to the linearised
#: worst case (what MSGR's first-order argument speaks of); PGD-5 a stronger, iterated attack.
ATTACKS = {"FGSM L∞": ("inf", 1), "PGD-5 L∞": ("inf", 5), "PGD-5 L2": ("2", 5)}

ROBUSTNESS_CLAIM = ("amfl §III-B: MSGR \"minimizes the worst-case loss\" under a perturbation of the input and the "
                    "stages (Eq. 1–7), so an MSGR model should lose less than the baseline when its queries are "
                    "attacked.")


RADII = {"inf": (0.0, 1 / 255, 2 / 255, 4 / 255), "2": (0.0, 0.1, 0.25, 0.5)}
SMOKE_RADII = {"inf": (0.0, 2 / 255), "2": (0.0, 0.25)}


def robustness(table_id: str = "amfl.robustness", *, radii: dict[str, Sequence[float]] | None = None,
               attacks: Sequence[str] = tuple(ATTACKS), **kw) -> CurveResult:
    """rank-1 / mAP of the table's rows with their queries attacked (:func:`reidlib.engine.robustness.
    attacked_run`), per attack of :data:`ATTACKS` and radius (pixel units, images in [0, 1]);
    ``radii`` maps a norm ("inf", "2") to its radii (default: L∞ 0, 1/255, 2/255, 4/255; L2 0, 0.1,
    0.25, 0.5 — an L∞ ball of 1/255 reaches L2 0.31 at 64×32; at the smoke profile two radii each,
    0 and L∞ 2/255 / L2 0.25, to keep ``make test`` short). ``kw``: :func:`curve_table`'s."""
    from reidlib.engine.robustness import attacked_run

    if radii is None:
        radii = SMOKE_RADII if kw.get("profile", "smoke") == "smoke" else RADII
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attacks {unknown}; known: {list(ATTACKS)}")

    def evaluate(run_dir: Path) -> list[dict]:
        out = []
        for label in attacks:
            norm, steps = ATTACKS[label]
            for r, m in attacked_run(run_dir, radii[norm], norm=norm, steps=steps).items():
                pq = m["per_query"]
                out.append({"group": label, "x": r, "rank1": 100 * m["rank1"], "mAP": 100 * m["mAP"],
                            "hits": pq["rank1"], "ap": pq["ap"]})
        return out

    kw.setdefault("per_run", functools.partial(gradient_sentences, device=kw.get("device", "auto")))
    kw.setdefault("notes", [f"Radii in pixel units (images in [0, 1]); the attacker pushes each query's embedding "
                            f"away from its true matches' clean centroid ({paths.__name__.split('.')[0]}.attacks)."])
    return curve_table(table_id, evaluate, x_label="radius", claim=ROBUSTNESS_CLAIM, **kw)


GRADIENT_CLAIM = ("amfl Eq. 3–4: to first order an attack of radius r raises the loss by r‖∇ₓL‖_{p*}, which MSGR "
                  "penalises in training — so an MSGR model's input gradient on the test queries should be smaller "
                  "than the baseline's")


def gradient_norms(run_dirs: dict[tuple[str, str, int], Path], device: str = "auto") -> pd.DataFrame:
    """Per run (configuration, seed): the mean over its test queries of ‖∇ₓ‖₁ and ‖∇ₓ‖₂ of the attack's
    objective (:func:`reidlib.engine.robustness.gradient_norm_run`, cached in the run)."""
    from reidlib.engine.robustness import gradient_norm_run

    return pd.DataFrame([{"configuration": n, "seed": s, **gradient_norm_run(d, device=device)}
                         for (n, _, s), d in run_dirs.items()])


def gradient_sentences(run_dirs: dict[tuple[str, str, int], Path], reference: str, device: str = "auto") -> list[str]:
    """One sentence per configuration: its mean ‖∇ₓ‖₁ and ‖∇ₓ‖₂ (mean ± sd over seeds) and, against
    ``reference``, the ratio of the means and the seed-paired Δ with its t-interval
    (:func:`reidlib.stats.seed_delta`), judged on :data:`GRADIENT_CLAIM` (MSGR lowers them)."""
    frame = gradient_norms(run_dirs, device)
    ref = frame[frame["configuration"] == reference].set_index("seed")
    out = [f"Claim: {GRADIENT_CLAIM}. Mean per-query norms of the attack objective's input gradient "
           "(pixel units; ‖∇ₓ‖₁ is what an L∞ radius multiplies, ‖∇ₓ‖₂ an L2 one), mean ± sd over seeds:"]
    for name, g in frame.groupby("configuration", sort=False):
        g = g.set_index("seed")
        parts = []
        for col, label in (("l1", "‖∇ₓ‖₁"), ("l2", "‖∇ₓ‖₂")):
            mean, sd = spread(g[col])
            digits = max(0, 2 - int(np.floor(np.log10(abs(ref[col].mean()) or 1.0))))  # 3 significant figures
            text = f"{label} {mean:.{digits}f}" + ("" if np.isnan(sd) else f" ± {sd:.{digits}f}")
            if name != reference:
                seeds = g.index.intersection(ref.index)
                ci = seed_delta(ref.loc[seeds, col], g.loc[seeds, col])
                ratio = g.loc[seeds, col].mean() / ref.loc[seeds, col].mean()
                delta = ci.format(digits) if np.isfinite(ci.low) else f"{ci.delta:+.{digits}f} (one seed: no interval)"
                text += f" (×{ratio:.2f} the reference; Δ {delta} → {verdict(ci, -1.0, min_claim=0)})"
            parts.append(text)
        out.append(f"{name}: " + "; ".join(parts) + ("" if name != reference else " (reference)"))
    return out


MISALIGNMENT_CLAIM = ("amfl §I and Fig. 1: \"detection misalignment ... causes the large scale and shift variance\", "
                      "and one-size-fits-all high-level embeddings \"might limit their accuracy on difficult examples "
                      "caused by variance of resolution, scale, ... detector misalignment\" (§II), which features of all "
                      "scales address — so CSIP and MSFL should lose less than the baseline when the query's box is "
                      "shifted or rescaled.")


def misalignment(table_id: str = "amfl.misalignment", *, shifts: Sequence[float] = (0.0, 0.05, 0.1, 0.2),
                 zooms: Sequence[float] = (0.0, 0.1, 0.25), **kw) -> CurveResult:
    """rank-1 / mAP of the table's rows with their query boxes misaligned (:func:`reidlib.engine.
    misalignment.misaligned_run`), three curves: "shift" (``shifts``: the window moves diagonally by
    that fraction of the box's width and height), "zoom in" and "zoom out" (``zooms``: the window is
    1 + x times smaller / larger about the box centre; 0.25 = box × 0.8 / × 1.25). Amounts in [0, 1);
    0 is the clean evaluation. ``kw``: :func:`curve_table`'s."""
    from reidlib.engine.misalignment import misaligned_run

    for name, amounts in (("shifts", shifts), ("zooms", zooms)):
        bad = [a for a in amounts if not (isinstance(a, (int, float)) and 0 <= a < 1)]
        if bad or 0 not in amounts:
            raise ValueError(f"misalignment: {name} must be fractions of the box in [0, 1) including 0 (the clean "
                             f"point), got {list(amounts)}")
    curves = (("shift", shifts), ("zoom in", zooms), ("zoom out", zooms))

    def evaluate(run_dir: Path) -> list[dict]:
        res = misaligned_run(run_dir, [(kind, float(a)) for kind, amounts in curves for a in amounts])
        return [{"group": kind, "x": a, "rank1": 100 * m["rank1"], "mAP": 100 * m["mAP"],
                 "hits": m["per_query"]["rank1"], "ap": m["per_query"]["ap"]} for (kind, a), m in res.items()]

    kw.setdefault("notes", ["x: shift = fraction of the box's width (horizontally) and height (vertically), one "
                            "diagonal direction per query; zoom = box × 1/(1 + x) (in) or × (1 + x) (out) about its "
                            "centre. Queries are cut again from their SynthReID scenes; the gallery is clean.",
                            "The gain is in points: a configuration with a lower clean score has fewer points to "
                            "lose, so where every curve nears a common floor (large shifts) a positive gain can "
                            "come from the clean gap alone; read it beside the Δ column."])
    return curve_table(table_id, evaluate, x_label="x", claim=MISALIGNMENT_CLAIM, **kw)

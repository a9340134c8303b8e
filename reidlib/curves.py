"""A metric along a perturbation of the queries, per configuration: mean ± sd over seeds and paired CIs.

The mechanism figures (issue 13: MSGR against attacks, MSFL against misaligned crops) evaluate every
trained run of a few configurations with its queries perturbed by an amount ``x`` (``x`` = 0: the
clean queries). Two differences answer the papers' arguments, both in percentage points, both paired
by seed and by query with :func:`reidlib.stats.paired_delta` (hierarchical bootstrap, 95 %):

* **Δ at x** — the configuration's metric minus the reference configuration's, at the same ``x``
  (is it better when the queries are perturbed this much?);
* **gain at x** — the configuration's change from its clean metric minus the reference's change,
  ``(row_x − row_0) − (ref_x − ref_0)``, per query: positive = it loses less than the reference.
  This is "robustness" in the papers' sense, apart from any clean difference.

Records (one per configuration, ``x`` and seed; :data:`RECORD_COLUMNS`) give rank-1 and mAP in percent
and carry the per-query rank-1 hits and APs (fractions) of that evaluation (``per_query.json``'s values), so the same queries line up everywhere.
An optional ``group`` column (e.g. the attack: "FGSM L∞", "PGD-5 L2") keeps several curves apart:
every statistic is computed within its group.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reidlib.stats import VERDICTS, DeltaCI, paired_delta, spread, verdict

__all__ = ["RECORD_COLUMNS", "curve_statistics", "format_curve", "x_text", "curve_sentences", "write_curve"]

RECORD_COLUMNS = ["configuration", "x", "seed", "rank1", "mAP", "hits", "ap"]
_METRICS = {"rank-1": ("rank1", "hits"), "mAP": ("mAP", "ap")}


def _cell(records: pd.DataFrame, name: str, x: float, column: str) -> dict[int, np.ndarray]:
    g = records[(records["configuration"] == name) & (records["x"] == x)]  # records of one group
    return {int(s): 100.0 * np.asarray(v, dtype=np.float64) for s, v in zip(g["seed"], g[column])}


def _paired(ref: dict[int, np.ndarray], row: dict[int, np.ndarray], what: str) -> DeltaCI | None:
    seeds = [s for s in row if s in ref]
    if not seeds:
        return None
    if any(len(ref[s]) != len(row[s]) for s in seeds):
        raise ValueError(f"{what}: per-query values of different lengths (different test sets?); "
                         "evaluate both on the same dataset")
    return paired_delta(np.stack([ref[s] for s in seeds]), np.stack([row[s] for s in seeds]))


def curve_statistics(records: pd.DataFrame, reference: str) -> pd.DataFrame:
    """One row per (configuration, x), in the records' order: seeds, mean and sd over seeds of rank-1
    and mAP (percent), and for each metric m: ``Δ m`` / ``Δ m low`` / ``Δ m high`` against
    ``reference`` at the same x and ``gain m`` / ``gain m low`` / ``gain m high`` (see the module
    doc; against the smallest x of each configuration). NaN where a difference is not defined (the
    reference itself; the gain at the smallest x)."""
    missing = [c for c in RECORD_COLUMNS if c not in records]
    if missing:
        raise ValueError(f"curve_statistics: records lack columns {missing}; expected {RECORD_COLUMNS}")
    if reference not in set(records["configuration"]):
        raise ValueError(f"curve_statistics: reference {reference!r} has no records; configurations: "
                         f"{list(dict.fromkeys(records['configuration']))}")
    if "group" in records:
        parts = [curve_statistics(g.drop(columns="group"), reference).assign(group=k)
                 for k, g in records.groupby("group", sort=False)]
        return pd.concat(parts, ignore_index=True)[["group", *parts[0].columns[:-1]]]
    out = []
    for (name, x), g in records.groupby(["configuration", "x"], sort=False):
        x0 = records.loc[records["configuration"] == name, "x"].min()
        rec = {"configuration": name, "x": float(x), "seeds": ",".join(str(int(s)) for s in g["seed"])}
        for m, (col, pq) in _METRICS.items():
            rec[m], rec[f"{m} sd"] = spread(g[col])
            delta = None if name == reference else _paired(_cell(records, reference, x, pq),
                                                           _cell(records, name, x, pq), f"{name} vs {reference} at {x}")
            gain = None
            if name != reference and x != x0:
                ref0, row0 = _cell(records, reference, x0, pq), _cell(records, name, x0, pq)
                ref_x, row_x = _cell(records, reference, x, pq), _cell(records, name, x, pq)
                ref_d = {s: ref_x[s] - ref0[s] for s in ref_x if s in ref0}
                row_d = {s: row_x[s] - row0[s] for s in row_x if s in row0}
                gain = _paired(ref_d, row_d, f"{name} vs {reference} from {x0} to {x}")
            for kind, ci in (("Δ", delta), ("gain", gain)):
                rec[f"{kind} {m}"], rec[f"{kind} {m} low"], rec[f"{kind} {m} high"] = \
                    (ci.delta, ci.low, ci.high) if ci else (np.nan,) * 3
        out.append(rec)
    return pd.DataFrame(out)


def _ci(r: pd.Series, kind: str, m: str, digits: int) -> str:
    d, lo, hi = r[f"{kind} {m}"], r[f"{kind} {m} low"], r[f"{kind} {m} high"]
    if np.isnan(d):
        return "—"
    star = " *" if lo > 0 or hi < 0 else ""
    return f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]{star}"


def x_text(x: float) -> str:
    """An x value as printed: whole multiples of 1/255 up to 16/255 (the usual L∞ budgets on 8-bit
    images) as "k/255", anything else with ``:g``."""
    k = round(x * 255)
    return f"{k}/255" if 0 < k <= 16 and abs(x * 255 - k) < 1e-6 else f"{x:g}"


def format_curve(frame: pd.DataFrame, x_label: str = "x", digits: int = 1) -> str:
    """Markdown: ours (mean ± sd over seeds) and the two paired differences with their 95 % CIs
    (* where the CI excludes 0)."""
    cols = {"curve": frame["group"]} if "group" in frame else {}
    cols |= {"configuration": frame["configuration"], x_label: [x_text(x) for x in frame["x"]]}
    for m in _METRICS:
        cols[f"ours {m}"] = [f"{v:.{digits}f}" + ("" if np.isnan(s) else f" ± {s:.{digits}f}")
                             for v, s in zip(frame[m], frame[f"{m} sd"])]
    for m in _METRICS:
        cols[f"Δ {m} vs ref [95 % CI]"] = [_ci(r, "Δ", m, digits) for _, r in frame.iterrows()]
        cols[f"gain {m} [95 % CI]"] = [_ci(r, "gain", m, digits) for _, r in frame.iterrows()]
    return pd.DataFrame(cols).to_markdown(index=False, disable_numparse=True)


def curve_sentences(frame: pd.DataFrame, claim: str, configurations: Sequence[str], kind: str = "gain",
                    x_label: str = "x", metrics: Sequence[str] = ("rank-1", "mAP")) -> list[str]:
    """The claim "``configurations`` do better than the reference" (``kind`` "gain": lose less from
    the clean queries; "Δ": score higher) judged at every x where the difference is defined, from the
    paired CI alone (:func:`reidlib.stats.verdict` with the claim's direction positive): one
    sentence per configuration and metric listing the verdict at each x, then a tally."""
    out, tally = [], dict.fromkeys(VERDICTS, 0)
    groups = frame.groupby("group", sort=False) if "group" in frame else [("", frame)]
    for group, curve in groups:
        for name in configurations:
            g = curve[(curve["configuration"] == name) & curve[f"{kind} {metrics[0]}"].notna()]
            for m in metrics:
                parts = []
                for _, r in g.iterrows():
                    ci = DeltaCI(r[f"{kind} {m}"], r[f"{kind} {m} low"], r[f"{kind} {m} high"])
                    v = verdict(ci, 1.0)
                    tally[v] += 1
                    parts.append(f"{x_label} {x_text(r['x'])}: {ci} → {v}")
                if parts:
                    where = f"{group}, " if group else ""
                    out.append(f"{where}{name}, {kind} of {m} against the reference: " + "; ".join(parts) + ".")
    n = sum(tally.values())
    if n:
        out.insert(0, f"Claim: {claim} Of {n} comparisons (configuration × {x_label} × metric, paired 95 % CIs "
                      f"over seeds and queries), {tally[VERDICTS[0]]} hold, {tally[VERDICTS[1]]} are "
                      f"contradicted and {tally[VERDICTS[2]]} can't be told from noise.")
    return out


def write_curve(frame: pd.DataFrame, path_stem: str | os.PathLike[str], title: str, x_label: str = "x",
                notes: Sequence[str] = ()) -> tuple[Path, Path]:
    """``<stem>.csv`` (every column) and ``<stem>.md`` (title, :func:`format_curve`, notes), atomically."""
    from reidlib.utils.io import atomic_write_text

    stem = Path(path_stem)
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    atomic_write_text(csv, frame.to_csv(index=False, float_format="%.4f"))
    text = f"### {title}\n\n{format_curve(frame, x_label)}\n"
    if notes:
        text += "\n" + "\n".join("- " + s for s in notes) + "\n"
    atomic_write_text(md, text)
    return csv, md

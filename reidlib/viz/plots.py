"""Seaborn figures of the comparison tables: sweeps (σ, λ) and the trend of a table's rows.

The paper's numbers and ours come from different datasets (SynthReID at the cpu profile), so they
are drawn on separate axes (sweeps) or as the change against the table's first row (trends) — the
quantity that can carry over from one dataset to another.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from reidlib.curves import x_text
from reidlib.reports import ran_on

__all__ = ["sweep_plot", "trend_plot", "cross_domain_plot", "paper_vs_ours", "complexity_plot", "curve_plot",
           "angle_plot"]


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def sweep_plot(frame: pd.DataFrame, x_values: Sequence[str], x_label: str, metric: str = "rank-1",
               title: str | None = None):
    """Panels over the sweep's points (categorical x, in the given order, one per table row): ours
    (mean ± sd over seeds); where the table has paired statistics, ours as Δ against its reference row
    with the 95 % CI (the reference at 0); the paper's published points where it has them. One line
    per test dataset where the rows were tested on several (mmps Fig. 4: trained on one, tested on
    three)."""
    import matplotlib.pyplot as plt

    if len(frame) != len(x_values):
        raise ValueError(f"sweep_plot: {len(frame)} table rows but {len(x_values)} x values")
    df = frame.assign(x=list(x_values), ran=ran_on(frame))
    order = list(dict.fromkeys(x_values))
    delta = f"Δ {metric}" in df
    fig, axes = plt.subplots(1, 3 if delta else 2, figsize=(13 if delta else 9, 3.2))
    tests = list(dict.fromkeys(df["test dataset"]))
    for i, test in enumerate(tests):
        g = df[df["test dataset"] == test]
        xs = [order.index(x) for x in g["x"]]
        axes[0].errorbar(xs, g[f"ours {metric}"], yerr=g[f"ours {metric} sd"].fillna(0.0), marker="o", capsize=3,
                         color=f"C{i}", label=", ".join(dict.fromkeys(g["ran"])))
        if delta:
            d = g[f"Δ {metric}"].fillna(0.0)  # the reference row: 0 by definition
            err = [(d - g[f"Δ {metric} low"]).fillna(0.0), (g[f"Δ {metric} high"] - d).fillna(0.0)]
            axes[1].errorbar(xs, d, yerr=err, marker="o", capsize=3, color=f"C{i}")
        paper = g[g[f"paper {metric}"].notna()]
        if len(paper):
            axes[-1].plot([order.index(x) for x in paper["x"]], paper[f"paper {metric}"], "o--", color=f"C{i}",
                          label=", ".join(dict.fromkeys(paper["paper dataset"])))
    axes[0].set(xlabel=x_label, ylabel=f"{metric} (%)", title=f"ours ({df['profile'].iloc[0]})" if len(tests) > 1
                else f"ours: {', '.join(dict.fromkeys(df['ran']))} ({df['profile'].iloc[0]})")
    if len(tests) > 1:
        axes[0].legend(fontsize=7)
    if delta:
        axes[1].axhline(0.0, color="grey", linewidth=0.8)
        ref = df.loc[df["configuration"] == df["reference"].iloc[0], "x"]
        axes[1].set(xlabel=x_label, ylabel=f"Δ {metric} (points)",
                    title=f"ours: Δ against {x_label} = {ref.iloc[0] if len(ref) else '?'} (95 % CI)")
    axes[-1].set(xlabel=x_label, ylabel=f"{metric} (%)", title="paper")
    if df[f"paper {metric}"].notna().any():
        axes[-1].legend(fontsize=7)
    else:
        axes[-1].text(0.5, 0.5, "no published curve", ha="center", va="center", transform=axes[-1].transAxes)
    for ax in axes:
        ax.set_xticks(range(len(order)), order)
        ax.set_xlim(-0.5, len(order) - 0.5)
        ax.tick_params(axis="x", labelrotation=30)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def trend_plot(frame: pd.DataFrame, metric: str = "rank-1", title: str | None = None):
    """Grouped bars: each row's change in ``metric`` against its reference row (the ``reference`` of
    :func:`reidlib.reports.row_statistics`: the first row, or the row above in a stacked table; the
    first row of its dataset group where there is none), for the paper and for ours (one panel per
    dataset the rows ran on); ours with its paired 95 % CI as an error bar where the table has one."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    long = []
    stacked = "reference" in frame and frame["reference"].nunique() > 1  # rows with references of their own
    groups = list(dict.fromkeys(frame["paper dataset"]))
    for g in groups:
        sub = frame[frame["paper dataset"] == g]
        refs = sub["reference"] if "reference" in sub else pd.Series(None, index=sub.index, dtype=object)
        for source, col in (("paper", f"paper {metric}"), ("ours", f"ours {metric}")):
            vals = sub[col].to_numpy(float)
            first = dict(reversed(list(zip(sub["configuration"], vals))))  # configuration → its first value
            none = pd.Series(np.nan, index=sub.index)
            low, high = sub.get(f"Δ {metric} low", none), sub.get(f"Δ {metric} high", none)
            for name, ref, ran, v, lo, hi in zip(sub["configuration"], refs, ran_on(sub), vals, low, high):
                base = first.get(ref, vals[0]) if isinstance(ref, str) else vals[0]
                if not np.isnan(v) and not np.isnan(base):
                    ci = (v - base - lo, hi - (v - base)) if source == "ours" else (np.nan, np.nan)
                    long.append(dict(group=g, ran=ran, row=_short(name), source=source, delta=v - base, ci=ci))
    data = pd.DataFrame(long, columns=["group", "ran", "row", "source", "delta", "ci"])
    fig, axes = plt.subplots(1, len(groups), figsize=(max(4.5, 1.0 * len(frame) / len(groups) + 3) * len(groups)
                                                      / max(1, len(groups) ** 0.5), 3.2), squeeze=False)
    for ax, g in zip(axes[0], groups):
        d = data[data["group"] == g]
        if len(d):
            sns.barplot(data=d, x="row", y="delta", hue="source", ax=ax, palette={"paper": "C3", "ours": "C0"},
                        hue_order=["paper", "ours"])
            ours = d[d["source"] == "ours"]
            x = [list(dict.fromkeys(d["row"])).index(r) + 0.2 for r in ours["row"]]  # the "ours" bar of each row
            err = np.array([list(c) for c in ours["ci"]]).T
            if err.size and not np.isnan(err).all():
                ax.errorbar(x, ours["delta"], yerr=err, fmt="none", color="k", capsize=3, lw=1)
        ax.axhline(0, color="k", lw=0.8)
        ran = ", ".join(dict.fromkeys(ran_on(frame[frame["paper dataset"] == g])))
        ax.set(xlabel="row", ylabel=f"Δ {metric} vs {'row above' if stacked else 'first row'} (pp)",
               title=f"paper: {g}\nours: {ran}")
        ax.title.set_fontsize(8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _split(s: str) -> tuple[str, str]:
    a, _, b = s.partition(" → ")
    return (a, b) if b else (a, a)


def cross_domain_plot(frame: pd.DataFrame, configuration: str, metric: str = "rank-1", title: str | None = None):
    """Two heat maps (training set × testing set) of ``metric`` for ``configuration``: the paper's
    (mmps Table 4) and ours."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sub = frame[frame["configuration"] == configuration]
    if sub.empty:
        raise ValueError(f"cross_domain_plot: no rows of {configuration!r} in the table")
    tr_te_ours = list(zip(sub["train dataset"], sub["test dataset"]))
    tr_te_paper = [_split(s) for s in sub["paper dataset"]]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, pairs, col, who in ((axes[0], tr_te_paper, f"paper {metric}", "paper"),
                                (axes[1], tr_te_ours, f"ours {metric}", "ours")):
        m = pd.DataFrame({"train": [a for a, _ in pairs], "test": [b for _, b in pairs], "v": sub[col].to_numpy()})
        grid = m.pivot_table(index="train", columns="test", values="v", sort=False)
        sns.heatmap(grid, annot=True, fmt=".1f", cmap="viridis", ax=ax, cbar=False)
        ax.set(title=f"{who}: {metric} (%)", xlabel="testing set", ylabel="training set")
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def paper_vs_ours(frame: pd.DataFrame, metric: str = "rank-1", title: str | None = None):
    """Bars of the paper's and our ``metric`` for every row of the table (rows labelled by configuration
    and what they ran on); for tables whose rows are different datasets rather than an ordering."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    labels = [f"{c.split('.', 1)[-1]}\n{r}" for c, r in zip(frame["configuration"], ran_on(frame))]
    long = pd.DataFrame({
        "row": labels * 2,
        "source": ["paper"] * len(frame) + ["ours"] * len(frame),
        metric: list(frame[f"paper {metric}"]) + list(frame[f"ours {metric}"]),
    }).dropna()
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(frame)), 3.2))
    sns.barplot(data=long, x="row", y=metric, hue="source", ax=ax, palette={"paper": "C3", "ours": "C0"},
                hue_order=["paper", "ours"])
    ax.set(xlabel="", ylabel=f"{metric} (%)")
    ax.tick_params(axis="x", labelsize=7)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def complexity_plot(frame: pd.DataFrame, title: str | None = None):
    """amfl Table II: the paper's and our parameters (M) and GMACs, one bar pair per row."""
    import matplotlib.pyplot as plt

    df = frame.set_index(frame["configuration"].map(_short))
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    df[["paper params (M)", "ours params (M)"]].plot.bar(ax=axes[0], rot=0, title="parameters (M)")
    df[["paper GFLOPs (= GMACs)", "ours GMACs"]].plot.bar(ax=axes[1], rot=0, title=f"GMACs at {df['input'].iloc[0].replace('x', '×')}")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def curve_plot(frame: pd.DataFrame, x_label: str, metric: str = "rank-1", title: str | None = None):
    """A :func:`reidlib.curves.curve_statistics` frame as curves, one column of panels per curve
    (``group``): top, each configuration's ``metric`` against x (mean over seeds, sd as error bars);
    bottom, its gain against the reference (loses less than the reference when above 0) with the
    paired 95 % CI as a band."""
    import matplotlib.pyplot as plt

    groups = list(frame.groupby("group", sort=False)) if "group" in frame else [("", frame)]
    fig, axes = plt.subplots(2, len(groups), figsize=(3.6 * len(groups) + 0.6, 5.6), squeeze=False, sharex="col")
    for j, (group, g) in enumerate(groups):
        top, bottom = axes[0, j], axes[1, j]
        for i, (name, c) in enumerate(g.groupby("configuration", sort=False)):
            top.errorbar(c["x"], c[metric], yerr=c[f"{metric} sd"].fillna(0.0), marker="o", ms=3, capsize=3,
                         color=f"C{i}", label=_short(name))
            d = c[c[f"gain {metric}"].notna()]
            if len(d):
                bottom.plot(d["x"], d[f"gain {metric}"], marker="o", ms=3, color=f"C{i}", label=_short(name))
                bottom.fill_between(d["x"], d[f"gain {metric} low"], d[f"gain {metric} high"], color=f"C{i}",
                                    alpha=0.2, linewidth=0)
        bottom.axhline(0.0, color="0.4", linewidth=0.8)
        xs = sorted(g["x"].unique())
        bottom.set_xticks(xs, [x_text(x) for x in xs], fontsize=8)  # L∞ radii as k/255
        top.set(title=group or None, ylabel=f"{metric} (%)" if j == 0 else None)
        bottom.set(xlabel=x_label, ylabel="gain vs reference (points)" if j == 0 else None)
    axes[0, 0].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def angle_plot(histogram: pd.DataFrame, runs: pd.DataFrame, statistic: str = "mean abs(cos)", title: str | None = None):
    """mmps Fig. 1: left, the density of the pairwise angles between class weight vectors per
    configuration (``histogram``: configuration, angle (°), density — pooled over seeds and
    classifiers); right, ``statistic`` of each run (one dot per seed) and its mean per configuration."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = list(dict.fromkeys(histogram["configuration"]))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.6, 1]})
    seen = histogram[histogram["density"] > 0]["angle (°)"]
    styles = ["-", "--", "-.", ":", (0, (5, 1, 1, 1))]  # rows that coincide stay visible
    for i, name in enumerate(order):
        h = histogram[histogram["configuration"] == name]
        axes[0].plot(h["angle (°)"], h["density"], drawstyle="steps-mid", color=f"C{i}", label=_short(name),
                     lw=2.0 if i == 0 else 1.3, ls=styles[i % len(styles)])
    axes[0].axvline(90, color="k", lw=0.6, ls=":")
    axes[0].set(xlim=(max(0.0, seen.min() - 5), min(180.0, max(seen.max() + 5, 95))), xlabel="angle between two "
                "class weight vectors (°)", ylabel="density", title="density of the pairwise angles (1° bins)")
    axes[0].legend(fontsize=8, frameon=False)
    d = runs.assign(row=runs["configuration"].map(_short))
    palette = {_short(n): f"C{i}" for i, n in enumerate(order)}
    sns.stripplot(data=d, x="row", y=statistic, hue="row", order=[_short(n) for n in order], palette=palette,
                  ax=axes[1], size=6, jitter=0.1, legend=False)
    means = d.groupby("row", sort=False)[statistic].mean().reindex([_short(n) for n in order])
    axes[1].scatter(range(len(means)), means, marker="_", s=600, color="k", zorder=3)
    axes[1].set(xlabel="", title=f"{statistic} per run (dots: seeds; bar: their mean)")
    axes[1].tick_params(axis="x", labelrotation=20, labelsize=8)
    for ax in axes:
        ax.title.set_fontsize(9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig

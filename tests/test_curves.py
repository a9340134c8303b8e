"""curves: per-(configuration, x) statistics against hand-computed values; the gain is a
difference in differences; groups stay apart; the verdicts follow the CIs."""

import numpy as np
import pandas as pd
import pytest

from reidlib.curves import curve_sentences, curve_statistics, format_curve, write_curve, x_text


def _records(ref_drop: float, row_drop: float, n: int = 400, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Two configurations; at x=0 both hit on a fixed 60 % of the queries; at x=1 each loses a share."""
    recs = []
    for s in seeds:
        rng = np.random.default_rng(s)
        clean = (rng.random(n) < 0.6).astype(float)
        for name, drop in (("ref", ref_drop), ("row", row_drop)):
            for x, hits in ((0.0, clean), (1.0, clean * (rng.random(n) >= drop))):
                recs.append(dict(configuration=name, x=x, seed=s, rank1=100 * hits.mean(), mAP=50 * hits.mean(),
                                 hits=hits, ap=hits / 2))
    return pd.DataFrame(recs)


def test_means_deltas_and_gains_match_hand_computation():
    rec = _records(0.5, 0.0)
    st = curve_statistics(rec, "ref")
    assert list(zip(st["configuration"], st["x"])) == [("ref", 0.0), ("ref", 1.0), ("row", 0.0), ("row", 1.0)]
    for _, r in st.iterrows():
        per_seed = rec[(rec["configuration"] == r["configuration"]) & (rec["x"] == r["x"])]["rank1"]
        assert r["rank-1"] == pytest.approx(per_seed.mean())
        assert r["rank-1 sd"] == pytest.approx(per_seed.std(ddof=1))
    row1 = st[(st["configuration"] == "row") & (st["x"] == 1.0)].iloc[0]
    ref1 = st[(st["configuration"] == "ref") & (st["x"] == 1.0)].iloc[0]
    row0 = st[(st["configuration"] == "row") & (st["x"] == 0.0)].iloc[0]
    ref0 = st[(st["configuration"] == "ref") & (st["x"] == 0.0)].iloc[0]
    assert row1["Δ rank-1"] == pytest.approx(row1["rank-1"] - ref1["rank-1"])
    assert row1["gain rank-1"] == pytest.approx((row1["rank-1"] - row0["rank-1"]) - (ref1["rank-1"] - ref0["rank-1"]))
    assert row1["gain rank-1 low"] > 0  # the row loses nothing, the reference half its hits
    assert row0["Δ rank-1"] == pytest.approx(0.0) and np.isnan(row0["gain rank-1"])
    assert st[st["configuration"] == "ref"][["Δ rank-1", "gain mAP"]].isna().all().all()


def test_verdicts_follow_the_ci_and_groups_stay_apart():
    better = _records(0.5, 0.0).assign(group="strong")
    same = _records(0.3, 0.3).assign(group="equal")
    worse = _records(0.0, 0.5).assign(group="weak")
    st = curve_statistics(pd.concat([better, same, worse], ignore_index=True), "ref")
    assert list(dict.fromkeys(st["group"])) == ["strong", "equal", "weak"]
    s = curve_sentences(st, "row loses less.", ["row"], metrics=("rank-1",))
    text = "\n".join(s)
    assert "strong, row, gain of rank-1" in text and "→ holds" in s[1]
    assert "→ contradicted" in s[3]
    assert s[0].startswith("Claim: row loses less. Of 3 comparisons")
    assert "1 hold, 1 are contradicted" in s[0]
    assert "| curve" in format_curve(st) and "*" in format_curve(st)


def test_bad_records_are_named(tmp_path):
    with pytest.raises(ValueError, match="lack columns"):
        curve_statistics(pd.DataFrame({"configuration": ["a"]}), "a")
    with pytest.raises(ValueError, match="reference 'nope' has no records"):
        curve_statistics(_records(0.1, 0.1), "nope")
    rec = _records(0.1, 0.1)
    rec.loc[rec.index[-1], "hits"] = np.ones(3)
    with pytest.raises(ValueError, match="different lengths"):
        curve_statistics(rec, "ref")
    csv, md = write_curve(curve_statistics(_records(0.1, 0.1), "ref"), tmp_path / "c", "T", notes=["n1"])
    assert md.read_text().startswith("### T") and "- n1" in md.read_text() and csv.is_file()


def test_curve_plot_draws_one_column_per_curve():
    from reidlib.viz import curve_plot

    st = curve_statistics(pd.concat([_records(0.5, 0.0).assign(group="a"), _records(0.2, 0.2).assign(group="b")]), "ref")
    fig = curve_plot(st, "radius", title="t")
    assert len(fig.axes) == 4
    assert len(fig.axes[2].collections) == 1  # the row's CI band (the reference has no gain)


def test_x_text_prints_linf_budgets_as_fractions_of_255():
    assert [x_text(v) for v in (0.0, 1 / 255, 2 / 255, 4 / 255, 16 / 255)] == ["0", "1/255", "2/255", "4/255",
                                                                                     "16/255"]
    assert [x_text(v) for v in (0.05, 0.1, 0.2, 0.25, 0.5, 32 / 255)] == ["0.05", "0.1", "0.2", "0.25", "0.5",
                                                                                 "0.12549"]

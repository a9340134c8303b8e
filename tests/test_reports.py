"""Results tables and the row runner, against a fake engine (the real one is tested by its owner)."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from reidlib import paths, reports, reproduce, tables
from reidlib.engine import get_profile


class FakeEngine:
    """train() returns fixed metrics per (name, dataset, seed); evaluate_run() records its calls."""

    def __init__(self, tmp: Path):
        self.tmp, self.trained, self.evaluated, self.pretrained = tmp, [], [], []

    def _score(self, name: str, dataset: str, seed: int) -> float:
        return 0.40 + 0.01 * (sum(map(ord, name + dataset)) % 20) + 0.02 * seed

    def train(self, name, profile, dataset, data_root, seed, device, runs_root, progress):
        self.trained.append((name, dataset, seed))
        run_dir = self.tmp / "runs" / name / f"{profile}-{dataset}-s{seed}"
        s = self._score(name, dataset, seed)
        return SimpleNamespace(run_dir=run_dir, metrics={dataset: {"rank1": s, "mAP": s / 2}}, config={})

    def pretrain(self, ref, progress=True):
        self.pretrained.append(ref)

    def evaluate_run(self, run_dir, dataset=None, data_root=None, rerank=False, multi_query=False):
        self.evaluated.append((Path(run_dir).parent.name, dataset, rerank, multi_query))
        return {"rank1": 0.9 if rerank else 0.1, "mAP": 0.8 if rerank else 0.05}


@pytest.fixture
def engine(tmp_path, monkeypatch):
    fake = FakeEngine(tmp_path)
    monkeypatch.setattr(reproduce, "train", fake.train)
    monkeypatch.setattr(reproduce, "evaluate_run", fake.evaluate_run)
    monkeypatch.setattr(reproduce, "train_at_once", lambda runs, **kw: 1)  # the fake trains in-process
    monkeypatch.setattr(reproduce, "standin_weights", fake.pretrain)  # nor is the cpu stand-in pretrained
    monkeypatch.setattr(reproduce, "is_finished", lambda path, config: False)  # no run is there yet
    return fake


def test_table1_compare_and_write(engine, tmp_path):
    res = reproduce.reproduce("amfl.table1", profile="cpu", output_dir=tmp_path)
    assert res.csv == tmp_path / "amfl" / "table1.csv" and res.md.exists()
    assert engine.pretrained == [get_profile("cpu", "amfl").pretrained]  # the stand-in first, once
    df = res.frame
    assert list(df["configuration"]) == [f"amfl.table1.{r}" for r in "abcdef"]
    e = df.set_index("configuration").loc["amfl.table1.e"]
    assert e["paper rank-1"] == 91.5 and e["paper mAP"] == 79.8
    assert e["ours rank-1"] == pytest.approx(100 * engine._score("amfl.table1.e", "synthreid", 0))
    assert "Δ rank-1" not in df  # ours and the paper's are never subtracted (different datasets)
    assert e["paper dataset"] == "Market-1501" and e["train dataset"] == e["test dataset"] == "synthreid"
    md = res.md.read_text()
    assert md.startswith("### amfl Table I — ablation of multi-scale feature learning (MSFL)\n")
    assert "Market-1501" in md and "synthreid" in md and "Profile `cpu`" in md
    assert "seed 0 (one run per row)" in md
    assert "| paper rank-1 " in md and "| ours rank-1 " in md
    back = pd.read_csv(res.csv)
    assert back["ran on"].tolist() == ["synthreid"] * 6 and "train dataset" not in back
    assert back["ours rank-1"].round(2).tolist() == df["ours rank-1"].round(2).tolist()
    shown = res.show()
    assert "91.5" in shown and "amfl.table1.e" in shown


def test_finished_runs_need_no_standin(engine, tmp_path, monkeypatch):
    """A fresh clone rebuilds a cpu table from its committed runs without pretraining the stand-in, and
    without spawning training processes that would only find them finished."""
    monkeypatch.setattr(reproduce, "is_finished", lambda path, config: True)
    side_by_side = []
    monkeypatch.setattr(reproduce, "train_at_once", lambda runs, **kw: side_by_side.append(list(runs)) or 1)
    reproduce.reproduce("amfl.table1", rows=["a", "f"], profile="cpu", output_dir=tmp_path)
    assert engine.pretrained == [] and side_by_side == [[]]
    assert engine.trained == [("amfl.table1.a", "synthreid", 0), ("amfl.table1.f", "synthreid", 0)]  # only read


def test_seeds_give_mean_and_sd(engine, tmp_path):
    res = reproduce.reproduce("amfl.table1", rows=["a"], seeds=[0, 1], output_dir=tmp_path)
    row = res.frame.iloc[0]
    assert row["seeds"] == "0,1" and row["ours rank-1 sd"] == pytest.approx(2 ** 0.5, rel=1e-6)
    assert "±" in res.show()
    assert "seeds 0,1 (ours = mean ± sd over seeds)" in res.md.read_text()


def test_rerank_row_reuses_the_plain_run(engine, tmp_path):
    res = reproduce.reproduce("amfl.table4", rows=["msgr", "rerank"], output_dir=tmp_path)
    assert [t[0] for t in engine.trained] == ["amfl.table4.msgr", "amfl.table4.rerank"]
    assert engine.evaluated == [("amfl.table4.rerank", "synthreid", True, False)]
    rr = res.frame.set_index("configuration").loc["amfl.table4.rerank"]
    assert rr["ours rank-1"] == pytest.approx(90.0) and rr["paper rank-1"] == 94.4
    assert rr["evaluation"] == "rerank"
    assert reports.ran_on(res.frame) == ["synthreid", "synthreid (re-ranked)"]


def test_all_datasets_and_cross_domain(engine, tmp_path):
    assert reproduce.resolve_datasets("all", "amfl.table4", "cpu") == [
        "synthreid", "synthreid-cuhk03", "synthreid-duke", "synthreid-msmt17"]
    assert reproduce.resolve_datasets("all", "mmps.table1", "paper") == ["cuhk03-labeled", "cuhk03-detected"]
    assert reproduce.resolve_datasets("a, b", "x", "cpu") == ["a", "b"]
    assert reproduce.resolve_datasets("all", "mmps.table4", "smoke") == ["synthreid", "synthreid-duke"]
    with pytest.raises(ValueError, match="names no dataset"):
        reproduce.resolve_datasets(" , ", "x", "cpu")
    res = reproduce.reproduce("mmps.table4", dataset="all", profile="cpu", output_dir=tmp_path)
    df = res.frame
    assert len(df) == 9 + 3
    cell = df[(df["configuration"] == "mmps.table4.softmax") & (df["train dataset"] == "synthreid")
              & (df["test dataset"] == "synthreid-duke")]
    assert cell["paper rank-1"].item() == 22.4 and cell["paper dataset"].item() == "Market-1501 → DukeMTMC-reID"
    assert ("mmps.table4.softmax", "synthreid-duke", False, False) in engine.evaluated
    best = df[df["configuration"] == "mmps.table4.best"]
    assert best["paper rank-1"].tolist() == [93.7, 84.4, 70.1]
    assert "synthreid → synthreid-duke" in reports.ran_on(df)
    text = reports.cross_domain_sentences(df)
    assert text[0].startswith("mmps.table4.softmax: mean in-domain rank-1 ") and text[0].endswith("; paper: 76.6% and 21.3%.")
    assert len(text) == 2 + 3  # best has no cross-domain cells; one "best − softmax" per dataset
    soft = df[df["configuration"] == "mmps.table4.softmax"]
    home = soft[soft["train dataset"] == soft["test dataset"]].set_index("test dataset")["ours rank-1"]
    away = soft[soft["train dataset"] != soft["test dataset"]]
    kept = (100 * away["ours rank-1"] / away["test dataset"].map(home)).mean()
    # the paper's six cross-domain cells over their test sets' in-domain rank-1 (mmps Table 4)
    paper = 100 * (22.4 / 81.2 + 2.4 / 56.2 + 44.9 / 92.5 + 4.2 / 56.2 + 37.7 / 92.5 + 16.5 / 81.2) / 6
    assert text[1].startswith(f"mmps.table4.softmax: a model tested on another domain keeps {kept:.0f}% of the "
                              f"rank-1 that domain's own model reaches in ours, {paper:.0f}% in the paper")
    diff = (best["ours rank-1"].iloc[0] - df[(df["configuration"] == "mmps.table4.softmax")]["ours rank-1"].iloc[0])
    assert text[2] == f"synthreid: 'Ours best' − softmax = {diff:+.1f} rank-1 in ours, +1.2 in the paper."


def test_lambda_sweep_trains_on_market_only_and_tests_on_three(engine, tmp_path):
    """mmps Fig. 4: train_on = Market-1501 -> every λ trained on its stand-in only, tested on all three."""
    res = reproduce.reproduce("mmps.fig4", dataset="all", rows=["lam0", "lam1e-7"], profile="cpu", output_dir=tmp_path)
    assert {d for _, d, _ in engine.trained} == {"synthreid"}
    assert set(res.frame["test dataset"]) == {"synthreid", "synthreid-duke", "synthreid-cuhk03"}
    assert ("mmps.fig4.lam0", "synthreid-cuhk03", False, False) in engine.evaluated
    home = res.frame[res.frame["test dataset"] == "synthreid"].set_index("configuration")
    assert home.loc["mmps.fig4.lam1e-7", "paper rank-1"] == 93.7 and home.loc["mmps.fig4.lam0", "paper mAP"] == 80.65
    assert res.frame[res.frame["test dataset"] != "synthreid"]["paper rank-1"].isna().all()  # Fig. 4's curves are lost
    # the Market stand-in is picked wherever it stands in the list; without it, the first dataset
    engine.trained.clear()
    reproduce.reproduce("mmps.fig4", dataset="synthreid-duke,synthreid", rows=["lam0"], profile="cpu",
                        output_dir=tmp_path)
    assert {d for _, d, _ in engine.trained} == {"synthreid"}
    engine.trained.clear()
    reproduce.reproduce("mmps.fig4", dataset="synthreid-duke", rows=["lam0"], profile="cpu", output_dir=tmp_path)
    assert {d for _, d, _ in engine.trained} == {"synthreid-duke"}


def test_multi_query_row(engine, tmp_path):
    res = reproduce.reproduce("mmps.table2", profile="cpu", output_dir=tmp_path)
    assert res.frame["paper rank-1"].tolist() == [93.7, 95.3]
    assert reports.ran_on(res.frame) == ["synthreid", "synthreid (multi-query)"]


def test_paths_and_rows():
    root = paths.repo_root()
    assert (root / "pyproject.toml").is_file()
    assert paths.repo_root(root / "reidlib" / "reports.py") == root
    assert paths.results_root("smoke") == root / "results" / "tmp"
    assert paths.results_root("cpu") == root / "results"
    assert paths.results_root("cpu", "x/y") == root / "x" / "y"
    assert paths.table_stem("table1", "paper") == "table1-paper"
    assert tables.rows("amfl.table1", ["a", "amfl.table1.f"]) == ["amfl.table1.a", "amfl.table1.f"]
    with pytest.raises(ValueError, match="rows:"):
        tables.rows("amfl.table1", ["z"])
    with pytest.raises(KeyError, match="unknown table"):
        tables.rows("amfl.table9")
    assert reproduce.paper_dataset("synthreid-duke") == "dukemtmcreid"
    assert reproduce.paper_dataset("cuhk03") == "cuhk03-labeled"


def test_compare_rejects_empty_and_bad_records():
    with pytest.raises(ValueError, match="no records"):
        reports.compare(pd.DataFrame(columns=reproduce.RECORD_COLUMNS), "cpu")
    with pytest.raises(ValueError, match="lack columns"):
        reports.compare(pd.DataFrame({"configuration": ["amfl.table1.a"]}), "cpu")


def test_trend_sentences_are_computed(engine, tmp_path):
    res = reproduce.reproduce("amfl.table1", profile="cpu", output_dir=tmp_path)
    text = " ".join(reports.trend_sentences(res.frame))
    assert "amfl.table1.f at 92.3%" in text and "Spearman" in text and "smoke" not in text


def test_update_readme(tmp_path):
    (tmp_path / "results" / "amfl").mkdir(parents=True)
    (tmp_path / "results" / "tmp" / "amfl").mkdir(parents=True)
    (tmp_path / "results" / "amfl" / "table1.md").write_text("### amfl Table I\n\n| a |\n|---|\n| 1 |\n")
    (tmp_path / "results" / "tmp" / "amfl" / "table1.md").write_text("SMOKE")
    readme = tmp_path / "README.md"
    readme.write_text(f"top\n{reports.RESULTS_BEGIN}\nold\n{reports.RESULTS_END}\nbottom\n")
    assert reports.update_readme(readme, tmp_path / "results") == 1
    text = readme.read_text()
    assert "#### amfl Table I" in text and "SMOKE" not in text and "old" not in text
    assert text.startswith("top\n") and text.endswith("bottom\n")
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="markers"):
        reports.update_readme(readme, tmp_path / "results")


def test_smoke_profile_runs_a_subset_in_a_source_hashed_runs_folder(engine, tmp_path):
    res = reproduce.reproduce("amfl.table1", profile="smoke", output_dir=tmp_path)
    assert list(res.frame["configuration"]) == ["amfl.table1.a", "amfl.table1.f"]
    assert tables.rows("amfl.table1", None, "cpu") == [f"amfl.table1.{r}" for r in "abcdef"]
    assert tables.rows("amfl.table1", ["c"], "smoke") == ["amfl.table1.c"]
    root = paths.repo_root()
    assert paths.runs_root("cpu") == root / "results" / "runs"
    smoke = paths.runs_root("smoke")
    assert smoke.parent == root / "results" / "tmp" / "runs" and len(smoke.name) == 12



def test_trend_sentences_compare_rows_only_within_a_dataset():
    def row(name, pds, ran, paper, ours):
        return {"configuration": name, "paper dataset": pds, "train dataset": ran, "test dataset": ran,
                "evaluation": "", "profile": "cpu", "paper rank-1": paper, "ours rank-1": ours}

    # Across datasets the paper's rank-1 falls (Market 90 → MSMT 66) while ours rises; within each
    # dataset the second row improves in both. A pooled comparison would call that disagreement.
    df = pd.DataFrame([row("amfl.table4.resnet50", "Market-1501", "synthreid", 90.0, 10.0),
                       row("amfl.table4.csip", "Market-1501", "synthreid", 91.0, 12.0),
                       row("amfl.table4.resnet50", "MSMT17", "synthreid-msmt17", 66.0, 30.0),
                       row("amfl.table4.csip", "MSMT17", "synthreid-msmt17", 65.0, 31.0)])
    text = reports.trend_sentences(df)
    market = next(s for s in text if s.startswith("Market-1501"))
    msmt = next(s for s in text if s.startswith("MSMT17"))
    assert "1 of 1 rows improve rank-1 in the paper and 1 in ours; the direction agrees for 1" in market
    assert "0 of 1 rows improve rank-1 in the paper and 1 in ours; the direction agrees for 0" in msmt
    assert text[-1].endswith("agrees for 1 of 2 comparisons.")
    assert not any(s.startswith("Against the first row") for s in text)


def test_reference_rows_come_first(engine, tmp_path):
    res = reproduce.reproduce("amfl.sigma", rows=["1e-2"], profile="cpu", output_dir=tmp_path)
    assert list(res.frame["configuration"]) == ["amfl.table3.a", "amfl.sigma.1e-2"]
    assert [t[0] for t in engine.trained] == ["amfl.table3.a", "amfl.sigma.1e-2"]
    assert res.frame["paper rank-1"].tolist() == [90.4, 91.7]
    assert res.sweep_labels() == ["0 (none)", "1e-2"]


def test_competitor_table_is_the_papers_rows_as_printed():
    df = reports.competitor_table("mmps.table1")
    assert list(df.columns) == ["method (as published)", "CUHK03 (labeled, 767/700) rank-1",
                                "CUHK03 (labeled, 767/700) mAP", "CUHK03 (detected, 767/700) rank-1",
                                "CUHK03 (detected, 767/700) mAP"]
    pcb = df.set_index("method (as published)").loc["PCB [1]"]
    assert pcb.tolist() == ["—", "—", "61.3", "54.2"]  # PCB has no labelled numbers in the paper
    assert len(reports.competitor_table("amfl.table4").columns) == 1 + 2 * 4
    with pytest.raises(KeyError, match="no competitor rows"):
        reports.competitor_table("amfl.table1")


def test_mmps_tables_1_to_3_print_and_draw_under_one_selection(engine, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    res = reproduce.reproduce_tables(["mmps.table1", "mmps.table2", "mmps.table3"], profile="cpu",
                                     dataset="all", output_dir=tmp_path)
    text = reproduce.show_tables(res)
    assert text.startswith("mmps Table 1 — CUHK03 (767/700)\n| configuration") and text.endswith("|\n\n")
    assert text.count("\n\nmmps Table ") == 2 and "synthreid (multi-query)" in text
    assert reproduce.show_competitors(res[2:]).startswith("mmps Table 3 — DukeMTMC-reID\n| method (as published)")
    assert reproduce.findings_tables(res[:1]).startswith("*mmps Table 1 — CUHK03 (767/700)*\n\n- Ours (cpu profile")
    assert reproduce.paper_vs_ours_figure(res, tmp_path) == tmp_path / "mmps_tables1-3.png"
    assert reproduce.paper_vs_ours_figure(res[1:2], tmp_path) == tmp_path / "mmps_table2.png"
    assert tables.figure_file(["mmps.table1", "mmps.table3"]) == "mmps_table1_table3.png"
    assert (tmp_path / "mmps_tables1-3.png").read_bytes()[:4] == b"\x89PNG"


def test_cross_domain_figures_one_per_configuration_that_ran(engine, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    full = reproduce.reproduce("mmps.table4", dataset="all", profile="cpu", output_dir=tmp_path)
    assert reproduce.cross_domain_figures(full, tmp_path) == [tmp_path / "mmps_table4.png",
                                                              tmp_path / "mmps_table4_best.png"]
    smoke = reproduce.reproduce("mmps.table4", dataset="all", profile="smoke", output_dir=tmp_path / "s")
    assert reproduce.cross_domain_figures(smoke, tmp_path / "s") == [tmp_path / "s" / "mmps_table4.png"]


def _records(hits: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """Records of amfl Table I rows with given per-seed rank-1 hits (AP = hits / 2)."""
    recs = []
    for name, per_seed in hits.items():
        for seed, h in enumerate(per_seed):
            recs.append(dict(configuration=name, train_dataset="synthreid", dataset="synthreid", eval="",
                             paper_key="market1501", seed=seed, rank1=100 * h.mean(), mAP=50 * h.mean(),
                             run_dir=f"r/{name}/{seed}", hits=h, ap=h / 2))
    return pd.DataFrame(recs)


def test_row_statistics_pair_by_seed_and_query_and_give_verdicts(tmp_path):
    rng = np.random.default_rng(0)
    base = [(rng.random(400) < 0.5).astype(float) for _ in range(3)]
    better = [b.copy() for b in base]
    for b in better:
        b[np.flatnonzero(b == 0)[:40]] = 1.0  # 40 more hits out of 400 in every seed: +10 points exactly
    recs = _records({"amfl.table1.a": base, "amfl.table1.b": base, "amfl.table1.c": better,
                     "amfl.table1.e": base, "amfl.table1.f": better})
    df = reports.compare(recs, "cpu").set_index("configuration")
    a, b, c, f = (df.loc[f"amfl.table1.{r}"] for r in "abcf")
    assert a["reference"] == "amfl.table1.a" and np.isnan(a["Δ rank-1"])
    assert b["Δ rank-1"] == 0 and b["Δ rank-1 low"] == 0 == b["Δ rank-1 high"]
    assert f["Δ rank-1"] == pytest.approx(10.0) and f["Δ mAP"] == pytest.approx(5.0)
    assert 0 < f["Δ rank-1 low"] < 10 < f["Δ rank-1 high"]
    assert f["paper Δ rank-1"] == pytest.approx(92.3 - 90.4) and c["paper Δ rank-1"] == pytest.approx(87.1 - 90.4)
    # the evaluation noise of a rank-1 near 50 % over 400 queries is about sqrt(.25 / 400) = 2.5 points
    assert a["eval sd rank-1"] == pytest.approx(2.5, abs=0.3)
    text = reports.verdict_sentences(df.reset_index())
    assert any(t.startswith("amfl.table1.f vs amfl.table1.a (on synthreid): rank-1 paper +1.9, ours +10.0 [")
               and t.count("→ holds") == 2 for t in text)
    assert any(t.startswith("amfl.table1.c vs") and "→ contradicted" in t for t in text)
    assert any(t.startswith("amfl.table1.e vs") and "→ can't tell" in t for t in text)
    assert any(t.startswith("amfl.table1.b vs") and "paper +0.3 (below 0.5: no claim)" in t and "→" not in t
               for t in text)
    assert "rank-1: of 3 paper claims against the reference row, 1 hold, 1 are contradicted and 1 can't be told" \
        in text[-2]
    shown = reports.format_table(df.reset_index())
    assert "| ref " in shown and "+10.0 [" in shown and "] *" in shown
    from matplotlib.container import ErrorbarContainer

    from reidlib import viz

    ax = viz.trend_plot(df.reset_index()).axes[0]
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = bars[0].lines[2][0].get_segments() if len(bars) == 1 else []
    assert [len(seg) for seg in segments] == [0, 2, 2, 2, 2]  # a CI on each of ours but the reference's
    assert segments[4][:, 1].tolist() == [f["Δ rank-1 low"], f["Δ rank-1 high"]]


def test_stacked_table_compares_each_row_with_the_row_above(tmp_path):
    rng = np.random.default_rng(1)
    base = [(rng.random(400) < 0.5).astype(float) for _ in range(3)]
    plus10 = [b.copy() for b in base]
    for b in plus10:
        b[np.flatnonzero(b == 0)[:40]] = 1.0  # +10 points over base in every seed
    plus15 = [b.copy() for b in plus10]
    for b in plus15:
        b[np.flatnonzero(b == 0)[:20]] = 1.0  # +5 points over plus10
    recs = _records({"amfl.table4.resnet50": base, "amfl.table4.msff": plus10, "amfl.table4.msgr": plus15})
    rerank = _records({"amfl.table4.rerank": plus10}).assign(eval="rerank")
    recs = pd.concat([recs, rerank], ignore_index=True)
    df = reports.compare(recs, "cpu", stacked=True).set_index("configuration")
    r50, msff, msgr, rr = (df.loc[f"amfl.table4.{r}"] for r in ("resnet50", "msff", "msgr", "rerank"))
    assert r50["reference"] == "amfl.table4.resnet50" and np.isnan(r50["Δ rank-1"])
    assert msff["reference"] == "amfl.table4.resnet50" and msff["Δ rank-1"] == pytest.approx(10.0)
    assert msgr["reference"] == "amfl.table4.msff" and msgr["Δ rank-1"] == pytest.approx(5.0)
    assert msgr["paper Δ rank-1"] == pytest.approx(93.7 - 92.3)
    # the re-ranked row against the plain evaluation of the row above it (the same runs, here 5 points worse)
    assert rr["reference"] == "amfl.table4.msgr" and rr["Δ rank-1"] == pytest.approx(-5.0)
    assert rr["paper Δ rank-1"] == pytest.approx(94.4 - 93.7)
    flat = reports.compare(recs, "cpu").set_index("configuration")
    assert flat.loc["amfl.table4.msgr", "Δ rank-1"] == pytest.approx(15.0)
    assert set(flat["reference"]) == {"amfl.table4.resnet50"}
    from matplotlib.container import ErrorbarContainer

    from reidlib import viz

    ax = viz.trend_plot(df.reset_index()).axes[0]
    ours = [b.get_height() for b in ax.containers[1]]  # the "ours" bars, one per row
    assert ours == pytest.approx([0.0, 10.0, 5.0, -5.0])
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    ends = bars[0].lines[2][0].get_segments()[2][:, 1]  # msgr's CI drawn around its step, not its total
    assert ends.tolist() == pytest.approx([msgr["Δ rank-1 low"], msgr["Δ rank-1 high"]])
    assert "row above" in ax.get_ylabel()
    md = reports.write_table(df.reset_index(), tmp_path / "t4", "amfl Table IV")[1].read_text()
    assert "Δ: a row minus the row above it (components stacked)" in md


def test_row_statistics_refuse_mismatched_query_sets():
    recs = _records({"amfl.table1.a": [np.ones(10)], "amfl.table1.f": [np.ones(12)]})
    with pytest.raises(ValueError, match="different lengths"):
        reports.compare(recs, "cpu")

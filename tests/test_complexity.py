"""amfl Table II from reidlib.complexity.profile (torch's flop counter; MACs = FLOPs / 2)."""

import json

import pytest

from reidlib import complexity


@pytest.fixture(scope="module")
def table2():
    return {n: complexity.profile(n) for n in ("amfl.table2.a", "amfl.table2.b", "amfl.table2.c")}


def test_baseline_matches_table2(table2):
    a, b = table2["amfl.table2.a"], table2["amfl.table2.b"]
    assert a["input_size"] == [256, 128] and a["feature_dim"] == 512
    assert a["params_m"] == pytest.approx(24.56, rel=0.02)
    assert b["params_m"] == pytest.approx(24.56, rel=0.02)
    # paper: 2.6 / 4.1; ours 2.67 / 4.05 (2.6 reads as 2.67 truncated; 2.7 % off, not 2 %)
    assert a["gmacs"] == pytest.approx(2.6, rel=0.03)
    assert b["gmacs"] == pytest.approx(4.1, rel=0.02)
    assert a["paper_gmacs"] == 2.6


def test_msfl_complexity_near_table2(table2):
    c = table2["amfl.table2.c"]
    # our widths (depthwise 3x3 smoothing, bottleneck width 128): 28.2 M / 5.2 G vs the paper's 27 M / 5.9 G
    assert c["params_m"] == pytest.approx(28.23, abs=0.05)
    assert c["gmacs"] == pytest.approx(5.22, abs=0.05)
    assert (c["paper_params_m"], c["paper_gmacs"]) == (27.0, 5.9)


def test_complexity_table_writes_ours_beside_the_papers(table2, tmp_path):
    from reidlib.reproduce import complexity_table

    res = complexity_table(profile="cpu", output_dir=tmp_path)
    f = res.frame.set_index("configuration")
    assert list(f.index) == list(table2)
    for name, ours in table2.items():
        assert f.loc[name, "ours params (M)"] == ours["params_m"] and f.loc[name, "ours GMACs"] == ours["gmacs"]
        assert (f.loc[name, "paper params (M)"], f.loc[name, "paper GFLOPs (= GMACs)"]) == \
            (ours["paper_params_m"], ours["paper_gmacs"])
    assert f.loc["amfl.table2.a", "paper rank-1 (Market-1501)"] == 90.4 and set(f["input"]) == {"256x128"}
    assert res.csv == tmp_path / "amfl" / "table2.csv"
    assert res.md.read_text().startswith("### amfl Table II — complexity of MSFL\n\nDepth-50 backbones at 256×128")
    assert "| amfl.table2.c   |" in res.show() and "description" not in res.show()
    from reidlib.reports import complexity_sentences

    a, b, c = (table2[f"amfl.table2.{r}"] for r in "abc")
    ours, paper = complexity_sentences(res.frame)
    assert ours == (f"Ours: MSFL adds {c['params_m'] - a['params_m']:.2f} M parameters and "
                    f"{c['gmacs'] - a['gmacs']:.2f} GMACs to the baseline; last stride 1 adds "
                    f"{b['gmacs'] - a['gmacs']:.2f} GMACs.")
    assert paper == "Paper: +2.44 M and +3.3 G for MSFL; +1.5 G for last stride 1."


def test_cli_json(capsys):
    assert complexity.main(["amfl.table1.b", "--size", "128", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "amfl.table1.b" and out["input_size"] == [128, 64] and out["gmacs"] > 0
    with pytest.raises(SystemExit):
        complexity.main(["amfl.table9.z"])

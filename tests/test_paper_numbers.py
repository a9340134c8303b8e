"""The transcribed paper numbers: complete, keyed by the registry, and consistent with the text."""

import math

import pytest

from reidlib import experiments
from reidlib import paper_numbers as pn


def test_every_paper_row_is_a_registry_name():
    for name in pn.PAPER_ROWS:
        experiments.get(name)  # raises for a typo


@pytest.mark.parametrize("prefix", ["amfl.table1.", "amfl.table2.", "amfl.table3.", "amfl.table4.",
                                    "mmps.table1.", "mmps.table2.", "mmps.table3.", "mmps.table4.",
                                    "mmps.ablation."])
def test_every_table_row_has_its_published_number(prefix):
    for name in experiments.names(prefix):
        assert pn.PAPER_ROWS.get(name), f"{name} has no paper number"


def test_values_are_percentages():
    cells = [c for row in pn.PAPER_ROWS.values() for c in row.values()]
    cells += [c for t in pn.COMPETITORS.values() for row in t.values() for c in row.values()]
    for c in cells:
        for v in (c.rank1, c.mAP):
            assert v is None or 0 < v <= 100


def test_spot_values_and_garbles():
    assert pn.paper_number("amfl.table1.e", "market1501") == pn.Number(91.5, 79.8)
    msmt = pn.paper_number("amfl.table4.resnet50", "msmt17")
    assert msmt.rank1 == 66.7 and "6.7" in msmt.note
    assert pn.paper_number("amfl.table4.rerank", "dukemtmcreid").mAP == 89.0
    assert pn.MMPS_CROSS_DOMAIN[("cuhk03-detected", "market1501")] == pn.Number(37.7, 17.0)
    assert pn.paper_number("mmps.ablation.lambda0", "market1501") == pn.Number(93.41, 80.65, "§4.4 text")
    assert pn.competitors("mmps.table1")["PCB [1]"].get("cuhk03-labeled") is None
    assert len(pn.competitors("amfl.table4")) == 21
    assert pn.paper_number("amfl.table1.a", "cuhk03-detected") is None
    with pytest.raises(KeyError, match="tables with some"):
        pn.competitors("amfl.table9")


def test_tables_agree_with_each_other_and_with_the_text():
    t = pn.TEXT
    mk = "market1501"
    # amfl: Table I (a) == Table II (a) == Table III (a) == Table IV ResNet50; (f) == II (c) == IV MSFF.
    base = pn.paper_number("amfl.table1.a", mk)
    for n in ("amfl.table2.a", "amfl.table3.a", "amfl.table4.resnet50"):
        assert pn.paper_number(n, mk) == base
    assert pn.paper_number("amfl.table1.f", mk) == pn.paper_number("amfl.table2.c", mk)
    assert pn.paper_number("amfl.table4.msff", mk) == pn.paper_number("amfl.table2.c", mk)
    assert t["amfl.market_rank1_to"] == pn.paper_number("amfl.table4.msgr", mk).rank1
    assert t["amfl.market_rank1_rerank"] == pn.paper_number("amfl.table4.rerank", mk).rank1
    assert t["amfl.csip_rank1_to"] == pn.paper_number("amfl.table1.e", mk).rank1
    assert t["amfl.gflops_stride1"] == pn.COMPLEXITY["amfl.table2.b"]["gflops"]
    # mmps §4.3.2 margins over Mancs / PCB equal Table 1's differences.
    ours, comp = pn.PAPER_ROWS["mmps.table1.ours"], pn.competitors("mmps.table1")
    lab, det = "cuhk03-labeled", "cuhk03-detected"
    checks = [
        (ours[lab].rank1 - comp["Mancs [5]"][lab].rank1, t["mmps.labeled_over_mancs_rank1"]),
        (ours[lab].mAP - comp["Mancs [5]"][lab].mAP, t["mmps.labeled_over_mancs_mAP"]),
        (ours[det].rank1 - comp["Mancs [5]"][det].rank1, t["mmps.detected_over_mancs_rank1"]),
        (ours[det].mAP - comp["Mancs [5]"][det].mAP, t["mmps.detected_over_mancs_mAP"]),
        (ours[det].rank1 - comp["PCB [1]"][det].rank1, t["mmps.detected_over_pcb_rank1"]),
        (ours[det].mAP - comp["PCB [1]"][det].mAP, t["mmps.detected_over_pcb_mAP"]),
    ]
    # mmps §4.5.2: gains of "Ours best" over the standard softmax, Table 4's diagonal.
    best, soft = pn.PAPER_ROWS["mmps.table4.best"], pn.MMPS_CROSS_DOMAIN
    checks += [
        (best[f"{mk}->{mk}"].rank1 - soft[(mk, mk)].rank1, t["mmps.market_gain_rank1"]),
        (best[f"{mk}->{mk}"].mAP - soft[(mk, mk)].mAP, t["mmps.market_gain_mAP"]),
        (best[f"{det}->{det}"].rank1 - soft[(det, det)].rank1, t["mmps.cuhk03_gain_rank1"]),
        (best[f"{det}->{det}"].mAP - soft[(det, det)].mAP, t["mmps.cuhk03_gain_mAP"]),
    ]
    for got, printed in checks:
        assert math.isclose(got, printed, abs_tol=1e-6), (got, printed)
    # "Ours best" equals the in-domain results of Tables 1-3.
    assert best[f"{mk}->{mk}"] == pn.paper_number("mmps.table2.ours", mk)
    assert best["dukemtmcreid->dukemtmcreid"] == pn.paper_number("mmps.table3.ours", "dukemtmcreid")
    assert best[f"{det}->{det}"] == pn.paper_number("mmps.table1.ours", det)
    assert t["mmps.lambda0_rank1"] == pn.paper_number("mmps.fig4.lam0", f"{mk}->{mk}").rank1


def test_every_real_dataset_has_a_synthetic_analogue_and_a_label():
    keys = {k for row in pn.PAPER_ROWS.values() for k in row if "->" not in k and "+" not in k}
    for k in keys:
        assert k in pn.SYNTH_ANALOGUE and k in pn.DATASET_LABELS

"""mmps Fig. 1 measured (reidlib.weight_angles): angles against hand-computed cases, checkpoint reading of
a real tiny model, the figure's table and claims against a fake engine with known weights."""

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from reidlib import reproduce, tables, viz, weight_angles
from reidlib.engine import create_model
from reidlib.engine.checkpoint import save_checkpoint
from reidlib.losses import pairwise_angles

MEAN, ABS_COS, SHARE, MIN, R = weight_angles.STATISTICS


def stats_of(w) -> dict:
    return weight_angles.angle_statistics(pairwise_angles(torch.as_tensor(w, dtype=torch.float64)).numpy())


def test_orthogonal_weights_are_90_degrees_apart():
    s = stats_of(torch.eye(5) * torch.arange(1.0, 6.0)[:, None])  # norms do not matter
    assert s["pairs"] == 10 and s[MEAN] == pytest.approx(90.0) and s[MIN] == pytest.approx(90.0)
    assert s[ABS_COS] == pytest.approx(0.0, abs=1e-12) and s[SHARE] == 0.0


def test_identical_rows_are_0_degrees_apart():
    s = stats_of([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [-3.0, 0.0, 1.0]])
    assert s[MIN] == pytest.approx(0.0, abs=1e-6)
    assert s[SHARE] == pytest.approx(100 / 3)


def test_three_vectors_by_hand():
    # (1,0), (1,1), (0,1): angles 45°, 90°, 45°; |cos| 1/√2, 0, 1/√2; two of three pairs below 60°
    s = stats_of([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    assert s[MEAN] == pytest.approx(60.0) and s[MIN] == pytest.approx(45.0)
    assert s[ABS_COS] == pytest.approx(2 / 3 / math.sqrt(2)) and s[SHARE] == pytest.approx(200 / 3)
    # obtuse pairs count as correlated too: (1,0) and (-1,1) are 135° apart, |cos| 1/√2
    s = stats_of([[1.0, 0.0], [-1.0, 1.0]])
    assert s[MEAN] == pytest.approx(135.0) and s[ABS_COS] == pytest.approx(1 / math.sqrt(2)) and s[SHARE] == 0.0


def test_angle_statistics_refuses_no_angles():
    with pytest.raises(ValueError, match="no angles"):
        weight_angles.angle_statistics(np.array([]))


def _save(run_dir: Path, model: torch.nn.Module) -> None:
    opt = torch.optim.Adam(model.parameters())
    save_checkpoint(run_dir / "checkpoint.pt", model=model, optimizer=opt,
                    scheduler=torch.optim.lr_scheduler.MultiStepLR(opt, [1]),
                    scaler=torch.amp.GradScaler("cuda", enabled=False), epoch=1, iteration=1, history=[],
                    config_hash="x")


@pytest.mark.parametrize("name, classifiers", [("mmps.ablation.full", 7), ("mmps.ablation.no_parts", 1),
                                               ("mmps.ablation.softmax", 7)])
def test_reads_every_classifier_of_a_real_model_checkpoint(tmp_path, name, classifiers):
    model = create_model(name, "smoke", num_classes=6, pretrained=False)
    _save(tmp_path, model)
    got = weight_angles.classifier_weights(tmp_path)
    assert len(got) == classifiers == len(model.classifiers)
    for w, clf in zip(got, model.classifiers):
        assert w.shape == (6, clf.weight.shape[1]) and torch.equal(w, clf.weight.detach().double())
    per_branch, angles = weight_angles.run_angles(tmp_path)
    assert list(per_branch["branch"]) == list(range(classifiers)) and (per_branch["pairs"] == 15).all()
    assert angles.size == 15 * classifiers


def test_missing_checkpoint_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        weight_angles.classifier_weights(tmp_path / "run")
    assert str(tmp_path / "run" / "checkpoint.pt") in str(e.value)
    assert f"Delete {tmp_path / 'run'} and run `make reproduce-mmps-fig1` again" in str(e.value)
    assert "copy its checkpoint.pt there" in str(e.value)


def test_checkpoint_without_classifiers_is_named(tmp_path):
    torch.save({"model": {"backbone.weight": torch.zeros(2)}}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"checkpoint.pt holds no classifier weights"):
        weight_angles.classifier_weights(tmp_path)


# ---- the figure's table against a fake engine whose runs hold known weights -----------------------------

def _weights(name: str, seed: int) -> torch.Tensor:
    """4 classes in 4-d: `full` orthogonal (90°), `lambda0` tilted towards a common direction (narrower
    by an amount that grows with the seed), `softmax` narrower still; other rows orthogonal."""
    tilt = {"mmps.ablation.lambda0": 0.3 + 0.1 * seed, "mmps.ablation.softmax": 1.0 + 0.05 * seed}.get(name, 0.0)
    return torch.eye(4, dtype=torch.float64) + tilt * torch.ones(4, 4, dtype=torch.float64)


class FakeRuns:
    def __init__(self, tmp: Path):
        self.tmp, self.asked = tmp, []

    def __call__(self, runs, *, profile, data_root=None, device="auto"):
        self.asked.append(list(runs))
        out = {}
        for name, dataset, seed in runs:
            run_dir = self.tmp / "runs" / name / f"{profile}-{dataset}-s{seed}"
            run_dir.mkdir(parents=True, exist_ok=True)
            heads = 1 if name.endswith("no_parts") else 3
            torch.save({"model": {f"classifiers.{i}.weight": _weights(name, seed) for i in range(heads)}},
                       run_dir / "checkpoint.pt")
            out[(name, dataset, seed)] = SimpleNamespace(run_dir=run_dir, metrics={}, config={})
        return out


@pytest.fixture
def fake_runs(tmp_path, monkeypatch):
    fake = FakeRuns(tmp_path)
    monkeypatch.setattr(reproduce, "train_runs", fake)
    return fake


def _angle(tilt: float) -> float:
    """Angle between e_i + t·1 and e_j + t·1 in 4-d: cos = (2t + 4t²) / (1 + 2t + 4t²)."""
    return math.degrees(math.acos((2 * tilt + 4 * tilt**2) / (1 + 2 * tilt + 4 * tilt**2)))


def test_table_claims_and_files_from_known_weights(fake_runs, tmp_path):
    res = weight_angles.weight_angles(profile="cpu", seeds=[0, 1, 2], output_dir=tmp_path / "out")
    names = tables.rows("mmps.fig1")
    assert fake_runs.asked == [[(n, "synthreid", s) for n in names for s in (0, 1, 2)]]  # one call: the same route
    summary = res.summary.set_index("configuration")
    assert list(summary.index) == names
    full, lam0 = summary.loc["mmps.ablation.full"], summary.loc["mmps.ablation.lambda0"]
    assert full[MEAN] == pytest.approx(90.0) and full[f"{MEAN} sd"] == pytest.approx(0.0, abs=1e-9)
    want = [_angle(0.3 + 0.1 * s) for s in range(3)]
    assert lam0[MEAN] == pytest.approx(np.mean(want)) and lam0[f"{MEAN} sd"] == pytest.approx(np.std(want, ddof=1))
    assert summary.loc["mmps.ablation.no_parts", "classifiers"] == 1 and full["classifiers"] == 3
    assert full["pairs"] == 3 * 6 and full["classes"] == 4
    assert full[R] == pytest.approx(4.0)  # Σ_i (Σ_j |ŵ_ji|)² of the identity: 4 dimensions × 1²
    t = 0.3  # lambda0, seed 0: every entry of a row positive, row norm² 1 + 2t + 4t²; column sum (1 + 4t)/norm
    assert res.runs.set_index(["configuration", "seed"]).loc[("mmps.ablation.lambda0", 0), R] == \
        pytest.approx(4 * (1 + 4 * t) ** 2 / (1 + 2 * t + 4 * t**2))
    # Δ lambda0 − full with the t-interval by hand: t(0.975, 2) = 4.302652729911275
    d = np.array(want) - 90.0
    half = 4.302652729911275 * d.std(ddof=1) / math.sqrt(3)
    assert lam0[f"Δ {MEAN}"] == pytest.approx(d.mean())
    assert (lam0[f"Δ {MEAN} low"], lam0[f"Δ {MEAN} high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert np.isnan(full[f"Δ {MEAN}"])
    claims = res.claims.set_index("statistic")
    exclusivity = res.claims[res.claims["row"] == "mmps.ablation.full"].set_index("statistic")
    assert exclusivity.loc[MEAN, "Δ"] == pytest.approx(-d.mean())  # full − lambda0: the claim's own sign
    assert exclusivity.loc[MEAN, "reference value"] == pytest.approx(np.mean(want))
    assert f"{-100 * d.mean() / np.mean(want):+.2f} % of lambda0's {np.mean(want):.2f}" in res.findings()
    assert list(exclusivity["verdict"]) == ["holds", "holds"]  # full is wider and less correlated here
    normalization = res.claims[res.claims["row"] == "mmps.ablation.lambda0"]
    assert list(normalization["verdict"]) == ["holds", "holds"]  # lambda0 is wider than softmax here
    assert len(claims) == len(weight_angles.CLAIMS)
    assert res.csv == tmp_path / "out" / "mmps" / "fig1.csv" and res.md.is_file()
    md = res.md.read_text()
    assert md.startswith("### mmps Fig. 1") and "after applying the normalization" in md and "→ **holds**" in md
    assert "90.00 ± 0.00" in res.show() and "Of 4 claims: 4 holds" in res.findings()
    hist = res.histogram[res.histogram["configuration"] == "mmps.ablation.full"]
    assert hist["density"].sum() == pytest.approx(1.0)
    assert abs(hist.loc[hist["density"].idxmax(), "angle (°)"] - 90.0) <= 0.5  # 1° bins; 90° is a bin edge
    fig = viz.angle_plot(res.histogram, res.runs)
    assert len(fig.axes[0].lines) == len(names) + 1  # one curve per row and the 90° mark


def test_contradicted_claim_and_one_seed(fake_runs, tmp_path, monkeypatch):
    monkeypatch.setattr(weight_angles, "CLAIMS", (weight_angles.Claim(
        "softmax wider", "mmps.ablation.softmax", "mmps.ablation.full", MEAN, +1),))
    res = weight_angles.weight_angles(profile="cpu", seeds=[0, 1, 2], rows=["full", "softmax"], output_dir=tmp_path)
    assert list(res.claims["verdict"]) == ["contradicted"]
    one = weight_angles.weight_angles(profile="cpu", seeds=[3], rows=["full", "lambda0"], output_dir=tmp_path)
    assert list(one.claims["verdict"]) == ["not run"]  # softmax was not among the rows
    one = weight_angles.weight_angles(profile="cpu", seeds=[4], rows=["full", "softmax"], output_dir=tmp_path)
    assert list(one.claims["verdict"]) == ["can't tell"] and "one seed, no interval" in one.findings()


def test_one_training_set_only(fake_runs):
    with pytest.raises(ValueError, match="one training set"):
        weight_angles.weight_angles(profile="cpu", dataset="synthreid,synthreid-duke")


def test_figure_rows_by_their_short_names():
    assert tables.rows("mmps.fig1", ["full", "mmps.ablation.softmax"]) == ["mmps.ablation.full",
                                                                          "mmps.ablation.softmax"]
    assert tables.rows("mmps.fig1", profile="smoke") == [f"mmps.ablation.{r}" for r in ("full", "lambda0", "softmax")]
    with pytest.raises(ValueError, match="row 'nope' is not in mmps.fig1"):
        tables.rows("mmps.fig1", ["nope"])

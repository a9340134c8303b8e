"""Figures: activation maps (amfl §IV-C), Grad-CAM with a similarity target, retrieval lists, plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from reidlib import viz  # noqa: E402


def test_activation_map_is_channel_abs_sum_with_spatial_l2_norm():
    f = torch.randn(2, 5, 4, 3)
    a = viz.activation_map(f)
    manual = f.abs().sum(1)
    manual = manual / manual.flatten(1).norm(dim=1)[:, None, None]
    torch.testing.assert_close(a, manual)
    assert torch.allclose(a.flatten(1).norm(dim=1), torch.ones(2))
    shown = viz.activation_map(f, size=(16, 8))
    assert shown.shape == (2, 16, 8) and shown.min() >= 0 and shown.max() <= 1
    assert torch.isclose(shown.amax(dim=(1, 2)), torch.ones(2)).all()
    with pytest.raises(ValueError, match="B×C×H×W"):
        viz.activation_map(torch.randn(5, 4, 3))


def test_overlay():
    img = np.zeros((8, 4, 3), np.float32)
    out = viz.overlay(img, np.ones((8, 4)), alpha=1.0)
    assert out.shape == (8, 4, 3) and 0 <= out.min() and out.max() <= 1
    assert np.allclose(viz.overlay(img, np.zeros((8, 4)), alpha=0.0), img)
    with pytest.raises(ValueError, match="differs"):
        viz.overlay(img, np.zeros((4, 4)))


class _Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1)
        self.layer4 = nn.Sequential(nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU())


class _TinyReid(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = _Backbone()
        self.fc = nn.Linear(6, 8)

    def forward(self, x):
        return self.fc(self.backbone.layer4(self.backbone.stem(x)).mean(dim=(2, 3)))


def test_similarity_target_and_gradcam():
    ref = torch.tensor([1.0, 0.0])
    t = viz.SimilarityTarget(ref)
    assert t(torch.tensor([2.0, 0.0])).item() == pytest.approx(1.0)
    assert t(torch.tensor([0.0, 3.0])).item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="D vector"):
        viz.SimilarityTarget(torch.ones(2, 2))
    model = _TinyReid().eval()
    x = torch.randn(3, 3, 16, 8)
    with torch.no_grad():
        refs = model(torch.randn(3, 3, 16, 8))
    maps = viz.gradcam_similarity(model, x, refs)
    assert maps.shape == (3, 16, 8) and maps.min() >= 0 and maps.max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="references"):
        viz.gradcam_similarity(model, x, refs[:2])
    with pytest.raises(ValueError, match="target_layer"):
        viz.gradcam_similarity(nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 8, 4)), x, torch.randn(3, 4))


def test_rank_gallery_drops_same_identity_same_camera():
    dist = np.array([[0.1, 0.2, 0.3, 0.4]])
    idx, match = viz.rank_gallery(dist, np.array([1]), np.array([1, 2, 1, 3]), np.array([0]),
                                  np.array([0, 1, 1, 0]), topk=4)
    assert idx.tolist() == [[1, 2, 3, -1]]  # gallery 0 = same pid and camera: not a valid match
    assert match.tolist() == [[False, True, False, False]]
    with pytest.raises(ValueError, match="distmat"):
        viz.rank_gallery(dist, np.array([1, 2]), np.array([1, 2, 1, 3]), np.array([0, 0]), np.zeros(4))


def test_figures_and_atomic_save(tmp_path):
    imgs = [np.random.rand(16, 8, 3).astype(np.float32) for _ in range(3)]
    maps = {"baseline": [np.random.rand(16, 8) for _ in imgs], "MSFL+MSGR": [np.random.rand(16, 8) for _ in imgs]}
    fig = viz.activation_figure(imgs, maps)
    assert len(fig.axes) == 3 * 3
    fig4 = viz.activation_figure(imgs, maps, images_as_columns=False)
    assert fig4.axes[1].get_title() == "baseline"
    fig = viz.retrieval_figure(imgs[:2], [imgs, imgs[:1]], np.array([[True, False, True], [False, False, False]]))
    assert len(fig.axes) == 2 * 4
    out = viz.save_figure(fig, tmp_path / "figs" / "r.png")
    assert out.read_bytes()[:4] == b"\x89PNG" and len(list((tmp_path / "figs").iterdir())) == 1


def _frame(n):
    return pd.DataFrame({
        "configuration": [f"amfl.sigma.{i}" for i in range(n)], "paper dataset": ["Market-1501"] * n,
        "paper rank-1": [90.0, np.nan, 91.0][:n], "ours rank-1": [10.0, 12.0, 11.0][:n],
        "ours rank-1 sd": [np.nan] * n, "train dataset": ["synthreid"] * n, "test dataset": ["synthreid"] * n,
        "evaluation": [""] * n, "profile": ["smoke"] * n,
    })


def test_sweep_and_trend_plots():
    fig = viz.sweep_plot(_frame(3), ["1e-3", "1e-2", "1e-1"], "σ")
    assert len(fig.axes) == 2 and "synthreid" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="x values"):
        viz.sweep_plot(_frame(3), ["a"], "σ")
    fig = viz.trend_plot(_frame(3))
    assert "Market-1501" in fig.axes[0].get_title()


def test_sweep_plot_draws_one_line_per_test_dataset():
    # mmps Fig. 4: two λ trained on one dataset, each tested on two -> two lines of two points each
    f = pd.concat([_frame(2), _frame(2)]).reset_index(drop=True)
    f["test dataset"] = ["synthreid", "synthreid", "synthreid-duke", "synthreid-duke"]
    fig = viz.sweep_plot(f, ["0", "1e-7", "0", "1e-7"], "λ")
    lines = [ln for ln in fig.axes[0].get_lines() if ln.get_marker() == "o"]
    assert len(lines) == 2 and [list(ln.get_xdata()) for ln in lines] == [[0, 1], [0, 1]]
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["synthreid", "synthreid → synthreid-duke"]
    # with the table's paired statistics a middle panel draws Δ against the reference with its CI
    f = f.assign(reference="amfl.sigma.0", **{"Δ rank-1": [np.nan, 2.0, np.nan, -1.0],
                                                "Δ rank-1 low": [np.nan, 1.0, np.nan, -3.0],
                                                "Δ rank-1 high": [np.nan, 3.0, np.nan, 0.5]})
    fig = viz.sweep_plot(f, ["0", "1e-7", "0", "1e-7"], "λ")
    assert len(fig.axes) == 3 and fig.axes[1].get_title() == "ours: Δ against λ = 0 (95 % CI)"
    lines = [ln for ln in fig.axes[1].get_lines() if ln.get_marker() == "o"]
    assert [list(ln.get_ydata()) for ln in lines] == [[0.0, 2.0], [0.0, -1.0]]


def test_paper_vs_ours_and_cross_domain_plot():
    fig = viz.paper_vs_ours(_frame(3), title="t")
    assert fig.axes[0].get_title() == "t"
    frame = pd.DataFrame({
        "configuration": ["mmps.table4.softmax"] * 4,
        "train dataset": ["a", "a", "b", "b"], "test dataset": ["a", "b", "a", "b"],
        "paper dataset": ["M", "M → D", "D → M", "D"],
        "paper rank-1": [92.5, 22.4, 44.9, 81.2], "ours rank-1": [50.0, 10.0, 12.0, 40.0],
    })
    fig = viz.cross_domain_plot(frame, "mmps.table4.softmax")
    assert [ax.get_title() for ax in fig.axes[:2]] == ["paper: rank-1 (%)", "ours: rank-1 (%)"]
    ours = fig.axes[1]
    assert [t.get_text() for t in ours.get_yticklabels()] == ["a", "b"]  # training sets
    assert [t.get_text() for t in ours.texts] == ["50.0", "10.0", "12.0", "40.0"]  # row a: a→a, a→b
    with pytest.raises(ValueError, match="no rows"):
        viz.cross_domain_plot(frame, "mmps.table4.best")


def test_cam_stage_picks_a_map_at_least_8_rows_high():
    from types import SimpleNamespace

    from reidlib.experiments import ModelSpec
    from reidlib.models import build_model
    from reidlib.viz.runs import cam_stage

    model = build_model(ModelSpec(depth=18, embed_dim=16), num_classes=3).eval()
    assert cam_stage(SimpleNamespace(model=model, size=(64, 32))) == "C3"
    assert cam_stage(SimpleNamespace(model=model, size=(32, 16))) == "C2"
    assert cam_stage(SimpleNamespace(model=model, size=(256, 128))) == "C5"


def test_complexity_plot():
    frame = pd.DataFrame({"configuration": ["amfl.table2.a", "amfl.table2.c"], "paper params (M)": [24.6, 32.0],
                          "ours params (M)": [24.6, 31.0], "paper GFLOPs (= GMACs)": [2.6, 4.1],
                          "ours GMACs": [2.7, 4.0], "input": ["256x128"] * 2})
    fig = viz.complexity_plot(frame, title="t")
    assert [ax.get_title() for ax in fig.axes] == ["parameters (M)", "GMACs at 256×128"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "c"]
    assert [round(b.get_height(), 1) for b in fig.axes[1].patches] == [2.6, 4.1, 2.7, 4.0]


@pytest.fixture(scope="module")
def msfl_run(tmp_path_factory):
    """amfl.table1.f (MSFL: C, P and F maps) trained at the smoke profile on a tiny SynthReID."""
    from reidlib.data import build_dataset
    from reidlib.engine import get_profile, train

    root = tmp_path_factory.mktemp("data")
    build_dataset("synthreid", root, **get_profile("smoke", "amfl").dataset_kw)
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train("amfl.table1.f", profile="smoke", data_root=root, runs_root=tmp_path_factory.mktemp("runs"),
                     progress=False).run_dir
    finally:
        torch.set_num_threads(n)


def test_run_figures(msfl_run, tmp_path):
    from reidlib.viz import runs

    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        runs.RunImages(tmp_path)
    run = runs.RunImages(msfl_run)
    assert run.size == (32, 16) and run.recipe == "amfl" and not run.model.training
    queries, refs = runs.pick_queries(run.dataset, 3)
    assert len({q[1] for q in queries}) == 3 and [q[1] for q in queries] == [r[1] for r in refs]
    assert all(q[2] != r[2] for q, r in zip(queries, refs))  # the reference is from another camera
    assert runs.pick_queries(run.dataset, 3) == (queries, refs)  # deterministic
    assert runs.describe_queries(queries, "synthreid") == \
        f"3 queries of identities {[q[1] for q in queries]} on synthreid"
    maps = runs.level_maps(run, queries, ["C2", "P2", "F2"])
    assert [len(v) for v in maps.values()] == [3, 3, 3] and maps["F2"][0].shape == (32, 16)
    with pytest.raises(KeyError, match="no feature maps"):
        runs.level_maps(run, queries, ["Q9"])
    assert runs.cam_stage(run) == "C2"
    cams = runs.similarity_cams(run, queries, refs)
    assert len(cams) == 3 and cams[0].shape == (32, 16) and np.isfinite(cams[0]).all()
    fig, hits = runs.retrieval(run, n_queries=2, topk=5, title="t")
    assert list(hits.columns) == ["query", "pid", "top-5", "first match"] and len(hits) == 2
    assert all(set(s) <= {"✓", "✗"} and len(s) == 5 for s in hits["top-5"])
    first = [s.index("✓") + 1 if "✓" in s else None for s in hits["top-5"]]
    assert [None if pd.isna(v) else int(v) for v in hits["first match"]] == first

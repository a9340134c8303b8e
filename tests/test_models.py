"""Every registered ModelSpec builds and trains (forward + backward) at a tiny size on CPU."""

import dataclasses

import pytest
import torch

from reidlib import experiments
from reidlib.models import build_model
from reidlib.models.backbone import ResNetBackbone, imagenet_weight_files

NUM_CLASSES = 5


def tiny(spec):
    return dataclasses.replace(spec, depth=18, pyramid_channels=16, embed_dim=32)


# one test per distinct architecture (many rows share a ModelSpec); names kept for readability
_SPECS = {}
for _name in experiments.names():
    _SPECS.setdefault(experiments.get(_name).model, _name)


@pytest.mark.parametrize("name", list(_SPECS.values()))
def test_every_spec_builds_and_backprops(name):
    spec = tiny(experiments.get(name).model)
    model = build_model(spec, NUM_CLASSES)
    x = torch.randn(4, 3, 64, 32)
    out = model(x)
    assert set(out) == {"logits", "embeddings", "feature", "stages"}
    assert len(out["logits"]) == len(out["embeddings"]) == len(model.classifiers) >= 1
    for lg, e, clf in zip(out["logits"], out["embeddings"], model.classifiers):
        assert lg.shape == (4, NUM_CLASSES)
        assert clf.weight.shape == (NUM_CLASSES, e.shape[1])
    assert set(out["stages"]) == {"C2", "C3", "C4", "C5"}
    sum(lg.logsumexp(1).sum() for lg in out["logits"]).backward()
    assert all(p.grad is not None for p in model.backbone.parameters())
    model.eval()
    with torch.no_grad():
        feat = model(x)
    assert feat.shape == out["feature"].shape and feat.dim() == 2
    maps = model.feature_maps(x)
    assert {"C2", "C3", "C4", "C5"} <= set(maps)


def test_msfl_maps_and_rows():
    x = torch.randn(2, 3, 64, 32)
    full = build_model(tiny(experiments.get("amfl.table1.f").model), 3).eval()
    maps = full.feature_maps(x)
    assert {"P2", "P3", "P4", "P5", "F2", "F3", "F4"} <= set(maps)
    assert maps["P2"].shape[-2:] == maps["C2"].shape[-2:] and maps["P2"].shape[1] == 16
    no_lat = build_model(tiny(experiments.get("amfl.table1.d").model), 3)
    assert set(no_lat.lateral) == {"C5"}  # row d: only the top of the path is projected
    direct = build_model(tiny(experiments.get("amfl.table1.b").model), 3)
    assert set(direct.lateral) == {"C4", "C5"} and not len(direct.smooth)
    assert direct.head[1].in_features == 2 * 16


def test_mmps_embedding_layout():
    x = torch.randn(2, 3, 96, 32)
    full = build_model(tiny(experiments.get("mmps.ablation.full").model), 3).eval()
    f = full(x)
    assert f.shape == (2, 7 * 256)
    # every branch is unit-norm in the test embedding
    assert torch.allclose(f.view(2, 7, 256).norm(dim=2), torch.ones(2, 7), atol=1e-5)
    assert full.feature_maps(x)["M"].shape[-2:] == (24, 8)  # C2's size
    single = build_model(tiny(experiments.get("mmps.ablation.no_multiscale").model), 3).eval()
    assert single.feature_maps(x)["M"].shape[-2:] == (3, 1)  # C5 of a 96x32 input


def test_last_stride():
    x = torch.randn(1, 3, 64, 32)
    assert ResNetBackbone(18, 2)(x)["C5"].shape[-2:] == (2, 1)
    assert ResNetBackbone(18, 1)(x)["C5"].shape[-2:] == (4, 2)
    assert ResNetBackbone(50, 1)(x)["C5"].shape[1] == 2048


def test_pretrained_imagenet_offline_names_file(monkeypatch, tmp_path):
    """Empty hub cache and no network (the download function fails): one error naming file and folder,
    after the download was tried with torchvision's V1 URL into the cache."""
    import urllib.error

    tried = []

    def offline(url, dst, *args, **kwargs):
        tried.append((url, dst))
        raise urllib.error.URLError("network unreachable")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(FileNotFoundError, match="resnet18-f37072fd.pth") as err:
        ResNetBackbone(18, 2, "imagenet")
    assert str(tmp_path / "hub" / "checkpoints") in str(err.value) and "download failed" in str(err.value)
    assert tried and tried[0][0].endswith("resnet18-f37072fd.pth")
    assert tried[0][1].startswith(str(tmp_path / "hub" / "checkpoints"))
    assert not list((tmp_path / "hub" / "checkpoints").glob("*.pth"))  # nothing partial
    assert imagenet_weight_files(50)[0] == "resnet50-0676ba61.pth"


def test_pretrained_from_file(monkeypatch, tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    (tmp_path / "checkpoints").mkdir()
    torch.save(ref.state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    bb = ResNetBackbone(18, 1, "imagenet")
    assert torch.equal(bb.stem[0].weight, ref.conv1.weight)
    assert torch.equal(bb.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    # an explicit path works too, and a model built from it uses those weights
    m = build_model(tiny(experiments.get("amfl.table1.a").model), 3,
                    pretrained=str(tmp_path / "checkpoints" / "resnet18-f37072fd.pth"))
    assert torch.equal(m.backbone.layer1[0].conv1.weight, ref.layer1[0].conv1.weight)


def test_pretrained_bad_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        ResNetBackbone(18, 2, tmp_path / "nope.pth")
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="bad.pth"):
        ResNetBackbone(18, 2, tmp_path / "bad.pth")


def test_bad_specs():
    base = experiments.get("amfl.table1.a").model
    with pytest.raises(ValueError, match="arch"):
        build_model(dataclasses.replace(base, arch="nope"), 3)
    with pytest.raises(ValueError, match="depth"):
        build_model(dataclasses.replace(base, depth=42), 3)
    with pytest.raises(ValueError, match="head"):
        build_model(tiny(dataclasses.replace(base, head="arc")), 3)
    with pytest.raises(ValueError, match="levels"):
        build_model(tiny(dataclasses.replace(experiments.get("amfl.table1.e").model, levels=("C2", "C4", "C5"))), 3)


def test_create_model_applies_the_profiles_overrides():
    from reidlib.engine import create_model, model_spec
    from reidlib.models import MSFL

    assert model_spec("amfl.table1.f", "paper") == experiments.get("amfl.table1.f").model
    assert model_spec("amfl.table1.f", "cpu") == dataclasses.replace(experiments.get("amfl.table1.f").model, depth=18)
    smoke = create_model("amfl.table1.f", "smoke", num_classes=7)
    assert isinstance(smoke, MSFL) and smoke.spec.depth == 18 and smoke.spec.embed_dim == 64
    assert smoke.classifiers[0].weight.shape[0] == 7
    with pytest.raises(ValueError, match="num_classes"):
        create_model("amfl.table1.a", "smoke", num_classes=0)


_INIT_HASH = """
import hashlib, sys, torch
from reidlib import experiments
from reidlib.models import build_model
torch.manual_seed(0)
m = build_model(experiments.get("mmps.ablation.full").model, 7, dtype=getattr(torch, sys.argv[1]))
assert {p.dtype for p in m.parameters()} == {getattr(torch, sys.argv[1])}
print(hashlib.sha1(b"".join(t.numpy().tobytes() for t in m.state_dict().values())).hexdigest())
"""


def test_float64_initial_weights_do_not_depend_on_the_kernel_set():
    """The smoke profile's CPU-independence starts here: float64 parameters drawn by build_model are
    bit-identical with ATen's vectorised (AVX2) and scalar (default) kernels; float32 ones need not be."""
    import os
    import subprocess
    import sys

    def digest(capability: str) -> str:
        env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, OMP_NUM_THREADS="1")
        out = subprocess.run([sys.executable, "-c", _INIT_HASH, "float64"], env=env, capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout.strip()

    assert digest("default") == digest("avx2")
    build_model(experiments.get("amfl.table1.a").model, 3, dtype=torch.float64)
    assert torch.get_default_dtype() == torch.float32  # build_model restores the default dtype

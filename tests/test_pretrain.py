"""The ImageNet stand-in (reidlib.pretrain): disjoint from every evaluated split, cached, loadable."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from reidlib.data.synthreid import DOMAINS, _layout
from reidlib.models import ResNetBackbone
from reidlib.pretrain import PRETRAIN_DATA_SEED, PretrainSpec, pretrain_profile, pretrained_backbone

pytestmark = pytest.mark.usefixtures("one_thread")


def _people(domain: str, seed: int, scale: float) -> set[str]:
    _, jobs, _ = _layout(DOMAINS[domain], seed, scale)
    return {repr((j.who.look, j.who.details)) for j in jobs if j.who is not None}


def test_pretraining_identities_are_in_no_evaluated_split():
    spec = PretrainSpec()
    assert spec.data_seed != 0
    pre = _people("market", spec.data_seed, spec.scale)
    assert len(pre) > 600  # 300 training + 300 test identities, distractors: all distinct looks
    for domain in DOMAINS:  # every evaluated SynthReID split is generator seed 0, scale 1
        assert not pre & _people(domain, 0, 1.0), domain


def test_seed_zero_is_refused():
    with pytest.raises(ValueError, match="data_seed = 0"):
        pretrain_profile(PretrainSpec(data_seed=0))


def test_tiny_pretraining_is_cached_and_loads(tmp_path):
    spec = PretrainSpec(scale=0.05, epochs=1, milestones=(1,), p=4, k=2, max_iters_per_epoch=2)
    assert spec.data_seed == PRETRAIN_DATA_SEED
    path = pretrained_backbone(spec, root=tmp_path / "pre", data_root=tmp_path / "data", progress=False)
    assert path.is_file() and (path.parent / "pretrain.json").is_file()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = ResNetBackbone(18, pretrained=path)
    for k, v in net.state_dict().items():
        assert torch.equal(v, state[k]), k
    torch.manual_seed(0)
    fresh = ResNetBackbone(18).state_dict()
    assert not torch.equal(fresh["layer4.1.conv2.weight"], state["layer4.1.conv2.weight"])
    mtime = path.stat().st_mtime_ns
    again = pretrained_backbone(spec, root=tmp_path / "pre", data_root=tmp_path / "data", progress=False)
    assert again == path and path.stat().st_mtime_ns == mtime  # reused, not retrained
    other = pretrained_backbone(dataclasses.replace(spec, lr=2e-3), root=tmp_path / "pre",
                                data_root=tmp_path / "data", progress=False)
    assert other.parent != path.parent  # another spec, another content-hashed folder


def test_profile_names_the_standin_and_an_unknown_one_is_refused():
    from reidlib.engine.factory import create_model
    from reidlib.engine.profiles import CPU_STANDIN, get_profile
    from reidlib.pretrain import standin_weights

    assert get_profile("cpu", "amfl").pretrained == CPU_STANDIN.ref
    other = dataclasses.replace(CPU_STANDIN, epochs=CPU_STANDIN.epochs + 1)
    assert other.ref != CPU_STANDIN.ref  # another stand-in is another identity for every run
    with pytest.raises(ValueError, match="names no known stand-in"):
        standin_weights(other.ref)
    prof = dataclasses.replace(get_profile("cpu", "amfl"), pretrained=other.ref)
    with pytest.raises(FileNotFoundError, match=f"{other.digest()}/backbone.pt not found.*python -m reidlib.pretrain"):
        create_model("amfl.table1.a", prof, num_classes=5)  # model creation never pretrains: it says how

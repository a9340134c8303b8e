"""evaluate_attacked: radius 0 reproduces the clean evaluation exactly; a radius > 0 moves the scores."""

import dataclasses

import pytest
import torch

from reidlib import experiments
from reidlib.engine.evaluation import evaluate_model
from reidlib.engine.profiles import get_profile
from reidlib.engine.robustness import evaluate_attacked
from reidlib.models import build_model


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from reidlib.data import build_dataset

    prof = get_profile("smoke", "amfl")
    ds = build_dataset("synthreid", tmp_path_factory.mktemp("data"), **prof.dataset_kw)
    torch.manual_seed(0)
    spec = dataclasses.replace(experiments.get("amfl.table1.a").model, **prof.model_overrides)
    return prof, ds, build_model(spec, ds.num_train_pids, dtype=prof.torch_dtype)


def test_radius_zero_is_the_clean_evaluation_and_attacks_move_it(smoke):
    prof, ds, model = smoke
    kw = dict(recipe="amfl", image_size=prof.image_size, device=torch.device("cpu"), batch_size=prof.test_batch_size)
    clean = evaluate_model(model, ds, **kw)[ds.name]
    res = evaluate_attacked(model, ds, radii=[0.0, 8 / 255], norm="inf", steps=1, **kw)
    assert res[0.0] == clean  # exactly, per-query results included
    assert res[8 / 255]["per_query"]["ap"] != clean["per_query"]["ap"]
    assert model.training  # the mode it came in with is restored

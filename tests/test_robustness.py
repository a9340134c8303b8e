"""evaluate_attacked: radius 0 reproduces the clean evaluation exactly; a radius > 0 moves the scores."""

import pytest
import torch

from reidlib.engine.evaluation import evaluate_model
from reidlib.engine.robustness import evaluate_attacked, input_gradient_norms


def test_radius_zero_is_the_clean_evaluation_and_attacks_move_it(smoke_model):
    prof, ds, model = smoke_model
    kw = dict(recipe="amfl", image_size=prof.image_size, device=torch.device("cpu"), batch_size=prof.test_batch_size)
    clean = evaluate_model(model, ds, **kw)[ds.name]
    res = evaluate_attacked(model, ds, radii=[0.0, 8 / 255], norm="inf", steps=1, **kw)
    assert res[0.0] == clean  # exactly, per-query results included
    assert res[8 / 255]["per_query"]["ap"] != clean["per_query"]["ap"]
    assert model.training  # the mode it came in with is restored


def test_input_gradient_norms_over_the_queries(smoke_model):
    prof, ds, model = smoke_model
    res = input_gradient_norms(model, ds, "amfl", prof.image_size, torch.device("cpu"), batch_size=7)
    assert res["queries"] == len(ds.query)
    assert res["l1"] > res["l2"] > 0  # ‖g‖₁ ≥ ‖g‖₂ for any g, > 0 for a trained model's objective
    again = input_gradient_norms(model, ds, "amfl", prof.image_size, torch.device("cpu"), batch_size=50)
    assert again["l2"] == pytest.approx(res["l2"], rel=1e-9)  # batch boundaries do not matter
    assert model.training

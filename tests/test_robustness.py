"""evaluate_attacked: radius 0 reproduces the clean evaluation exactly; a radius > 0 moves the scores."""

import torch

from reidlib.engine.evaluation import evaluate_model
from reidlib.engine.robustness import evaluate_attacked


def test_radius_zero_is_the_clean_evaluation_and_attacks_move_it(smoke_model):
    prof, ds, model = smoke_model
    kw = dict(recipe="amfl", image_size=prof.image_size, device=torch.device("cpu"), batch_size=prof.test_batch_size)
    clean = evaluate_model(model, ds, **kw)[ds.name]
    res = evaluate_attacked(model, ds, radii=[0.0, 8 / 255], norm="inf", steps=1, **kw)
    assert res[0.0] == clean  # exactly, per-query results included
    assert res[8 / 255]["per_query"]["ap"] != clean["per_query"]["ap"]
    assert model.training  # the mode it came in with is restored

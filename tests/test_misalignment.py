"""Misaligned queries: amount 0 is the clean evaluation exactly; a shift / zoom moves the content of a
rendered crop by the requested number of pixels (measured on the image); bad amounts raise."""

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from reidlib import mechanisms
from reidlib.data.synthrender import Box, Camera, Details, Identity, Look, render
from reidlib.engine.evaluation import evaluate_model
from reidlib.engine.misalignment import (
    evaluate_misaligned,
    misaligned_box,
    misaligned_queries,
    misalignment_key,
)

GREEN = (0, 255, 0)




def test_amount_zero_is_the_clean_evaluation_and_misalignment_moves_it(smoke_model):
    prof, ds, model = smoke_model
    kw = dict(recipe="amfl", image_size=prof.image_size, device=torch.device("cpu"), batch_size=prof.test_batch_size)
    clean = evaluate_model(model, ds, **kw)[ds.name]
    kinds = ("shift", "zoom in", "zoom out")
    res = evaluate_misaligned(model, ds, prof.dataset_kw, perturbations=[(k, a) for k in kinds for a in (0.0, 0.25)],
                              **kw)
    for kind in kinds:
        assert res[(kind, 0.0)] == clean  # exactly, per-query results included
        assert res[(kind, 0.25)]["per_query"]["ap"] != clean["per_query"]["ap"]
    assert model.training  # the mode it came in with is restored


def test_queries_are_cut_again_from_their_scenes(smoke_model):
    prof, ds, _ = smoke_model
    again = misaligned_queries(ds, prof.dataset_kw, "shift", 0.0)
    assert again == [Path(p).read_bytes() for p, _, _ in ds.query]  # the stored files, byte for byte
    moved = misaligned_queries(ds, prof.dataset_kw, "zoom out", 0.1)
    assert all(a != b for a, b in zip(again, moved))


def test_stale_data_is_refused(smoke_model, tmp_path):
    prof, ds, model = smoke_model
    p, pid, cam = ds.query[0]
    fake = tmp_path / "query" / Path(p).name
    fake.parent.mkdir()
    fake.write_bytes(Path(ds.query[1][0]).read_bytes())  # another query's image under this name
    other = dataclasses.replace(ds, query=[(str(fake), pid, cam), *ds.query[1:]])
    with pytest.raises(RuntimeError, match="differ from what this environment renders"):
        evaluate_misaligned(model, other, prof.dataset_kw, "amfl", prof.image_size, torch.device("cpu"),
                            [("shift", 0.1)])


def _person() -> Identity:
    look = Look(top=(200, 30, 30), bottom=(30, 40, 160), hair=(20, 15, 10), skin=(240, 200, 170), inner=(230, 230, 230),
                long_sleeves=True, jacket=False, bottom_kind="trousers", height=1.0, width=1.0)
    details = Details(shoes=0, bag="none", bag_colour=0, logo="none", logo_colour=0, glasses=False, hat="none",
                      hat_colour=0)
    return Identity(1, 0, look, details)


def _mask(box: Box) -> np.ndarray:
    """Where the person is in the crop: a plain camera (no cast, blur, noise) before a green wall."""
    cam = Camera(gain=(1.0, 1.0, 1.0), offset=0.0, blur=0.0, resolution=1.0, noise=0.0, quality=95,
                 background=np.full((220, 440, 3), GREEN, np.uint8), view_probs=(1.0, 0.0, 0.0, 0.0))
    img = np.asarray(render(_person(), cam, box, np.random.default_rng(0), view="front"), np.float32)
    return np.abs(img - img[0, 0]).sum(axis=2) > 60


def _extent(mask: np.ndarray, axis: int) -> tuple[int, int]:
    idx = np.flatnonzero(mask.any(axis=axis))
    return int(idx[0]), int(idx[-1])


def test_shift_moves_the_content_by_the_requested_pixels():
    clean = _mask(Box())
    top, bottom = _extent(clean, 1)
    height = bottom - top + 1  # the person's height in crop pixels ≈ the box height (2:1 box: width = height / 2)
    left, right = _extent(clean, 0)
    for signs in ((1, 1), (-1, -1)):
        moved = _mask(misaligned_box(Box(), "shift", 0.1, signs))
        l2, r2 = _extent(moved, 0)
        t2, b2 = _extent(moved, 1)
        # the window moves right / down by 0.1 of the box: the content moves left / up by as many pixels
        assert l2 - left == pytest.approx(-signs[0] * 0.1 * height / 2, abs=1.2)
        assert r2 - right == pytest.approx(-signs[0] * 0.1 * height / 2, abs=1.2)
        edge = (b2 - bottom) if signs[1] > 0 else (t2 - top)  # the edge that stays in the frame
        assert edge == pytest.approx(-signs[1] * 0.1 * height, abs=1.2)


def test_zoom_rescales_the_content_about_the_box_centre():
    clean = _mask(Box())
    top, bottom = _extent(clean, 1)
    out = _mask(misaligned_box(Box(), "zoom out", 0.25))
    t2, b2 = _extent(out, 1)
    assert (b2 - t2 + 1) == pytest.approx((bottom - top + 1) / 1.25, abs=1.5)
    centre = (clean.shape[0] - 1) / 2
    assert (t2 + b2) / 2 - centre == pytest.approx(((top + bottom) / 2 - centre) / 1.25, abs=1.0)
    zoomed = _mask(misaligned_box(Box(), "zoom in", 0.1))
    assert _extent(zoomed, 1) == (0, clean.shape[0] - 1)  # head and feet cut by the smaller window
    shifted = misaligned_box(Box(0.1, -0.05, 1.2), "zoom in", 0.25)
    assert (shifted.dx * shifted.scale, shifted.dy * shifted.scale) == pytest.approx((0.1 * 1.2, -0.05 * 1.2))


@pytest.mark.parametrize("kind, amount, match", [("tilt", 0.1, "kind 'tilt' unknown"), ("shift", -0.1, "amount"),
                                                  ("zoom in", 1.0, "amount"), ("zoom out", math.nan, "amount")])
def test_bad_amounts_raise_naming_the_parameter(kind, amount, match):
    with pytest.raises(ValueError, match=match):
        misaligned_box(Box(), kind, amount)
    with pytest.raises(ValueError, match=match):
        misalignment_key("synthreid", kind, amount)


@pytest.mark.parametrize("kw, name", [({"shifts": (0.0, -0.1)}, "shifts"), ({"zooms": (0.1, 0.25)}, "zooms"),
                                      ({"zooms": (0.0, 1.5)}, "zooms")])
def test_misalignment_checks_its_amounts_before_training(kw, name):
    with pytest.raises(ValueError, match=f"misalignment: {name} must be"):
        mechanisms.misalignment(**kw)


def test_keys_and_other_datasets(smoke_model):
    assert misalignment_key("synthreid", "shift", 0.0) == "synthreid"
    assert misalignment_key("synthreid", "zoom in", 0.25) == "synthreid+zoomin-0.25"
    assert misalignment_key("synthreid-duke", "shift", 0.1) == "synthreid-duke+shift-0.1"
    prof, ds, _ = smoke_model
    with pytest.raises(ValueError, match="needs a SynthReID dataset"):
        misaligned_queries(dataclasses.replace(ds, name="market1501"), {}, "shift", 0.1)

"""Calibration candidates (reidlib.calibration) and the cpu speed levers in the trainer."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd
import pytest

from reidlib.calibration import CANDIDATES, CHOSEN, candidate_profile, choose, summarise
from reidlib.engine import train
from reidlib.engine.profiles import get_profile

pytestmark = pytest.mark.usefixtures("one_thread")


def test_new_profile_fields_keep_old_hashes():
    d = get_profile("smoke", "amfl").to_dict()
    assert "cpu_autocast" not in d and "channels_last" not in d and "threads" not in d
    d = get_profile("cpu", "amfl").to_dict()
    assert (d["cpu_autocast"], d["channels_last"], d["threads"]) == ("bfloat16", True, 1)


def test_candidate_profiles(tmp_path):
    fake = tmp_path / "backbone.pt"
    for name, changes in CANDIDATES.items():
        prof = candidate_profile(name, standin=lambda spec: fake)
        assert prof.name == f"cal-{name}" and prof.recipe == "amfl"
        assert prof.pretrained == (str(fake) if changes.get("pretrained") else None)
        assert prof.eval_every == prof.epochs and prof.model_overrides.get("depth") == 18
    with pytest.raises(ValueError, match="unknown calibration candidate"):
        candidate_profile("nope")


def test_choose_takes_the_cheapest_meeting_the_targets():
    df = pd.DataFrame([
        dict(candidate="slow", seed=0, rank1=0.70, mAP=0.55, train_min=3.0, queries=100),
        dict(candidate="fast", seed=0, rank1=0.65, mAP=0.52, train_min=1.0, queries=100),
        dict(candidate="weak", seed=0, rank1=0.40, mAP=0.30, train_min=0.5, queries=100),
        dict(candidate="noisy", seed=0, rank1=0.70, mAP=0.60, train_min=0.2, queries=100),
        dict(candidate="noisy", seed=1, rank1=0.80, mAP=0.60, train_min=0.2, queries=100),
    ])
    s = summarise(df)
    noisy = s[s.candidate == "noisy"].iloc[0]
    assert math.isclose(noisy["rank1_sd"], 0.1 / math.sqrt(2)) and math.isnan(s.iloc[0]["rank1_sd"])
    assert math.isclose(noisy["rank1_eval_sd"], math.sqrt(0.75 * 0.25 / 100))
    name, why = choose(s)
    assert name == "fast" and "fast" in why  # noisy is cheaper but its seed sd is 7 pts
    name, why = choose(s[s.candidate == "weak"])
    assert name is None and "No candidate" in why
    chosen = pd.DataFrame([dict(candidate=CHOSEN, seed=k, rank1=0.655 + 0.005 * k, mAP=0.52, train_min=3.0, queries=100)
                           for k in range(3)])
    name, why = choose(summarise(pd.concat([df, chosen])))
    assert name == CHOSEN and "over its 3 seeds rank-1 66.0 ± 0.5 %" in why


def test_bf16_channels_last_run_is_deterministic(tmp_path):
    """Same seed → same metrics with bf16 autocast and channels_last (float32 smoke-sized runs)."""
    from reidlib.data import build_dataset

    prof = dataclasses.replace(get_profile("smoke", "amfl"), name="smoke-bf16", dtype="float32",
                               cpu_autocast="bfloat16", channels_last=True)
    build_dataset("synthreid", tmp_path / "data", **prof.dataset_kw)
    runs = [train("amfl.table1.a", profile=prof, data_root=tmp_path / "data", runs_root=tmp_path / f"r{i}",
                  device="cpu", progress=False) for i in range(2)]
    assert runs[0].metrics == runs[1].metrics
    assert runs[0].config["profile"]["cpu_autocast"] == "bfloat16"
    with pytest.raises(Exception, match="recipe"):
        train("mmps.table4.softmax", profile=prof, data_root=tmp_path / "data", runs_root=tmp_path / "r3",
              device="cpu", progress=False)

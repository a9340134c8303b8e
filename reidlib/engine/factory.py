"""A configuration's model as a profile trains it: :func:`create_model` (timm's habit) — the
registry entry (:mod:`reidlib.experiments`) and the profile's ``model_overrides`` applied in one place,
so the cpu profile's ResNet-18 is visible where the model is made.
"""

from __future__ import annotations

import dataclasses

from torch import nn

from reidlib import experiments
from reidlib.engine.profiles import Profile, get_profile
from reidlib.models import build_model
from reidlib.paths import standin_file

__all__ = ["create_model", "model_spec"]


def model_spec(name: str, profile: str | Profile = "paper") -> experiments.ModelSpec:
    """The ``ModelSpec`` of configuration ``name`` with ``profile``'s ``model_overrides`` applied: at
    ``paper`` the registry's (ResNet-50), at ``cpu`` ResNet-18 (``depth=18``), at ``smoke`` ResNet-18
    with narrow heads."""
    exp = experiments.get(name)
    prof = profile if isinstance(profile, Profile) else get_profile(profile, exp.recipe)
    try:
        return dataclasses.replace(exp.model, **prof.model_overrides)
    except TypeError as e:
        raise ValueError(f"profile {profile!r}: model_overrides {prof.model_overrides} do not fit ModelSpec ({e})") \
            from e


def create_model(name: str, profile: str | Profile = "paper", num_classes: int = 1,
                 pretrained: bool = True) -> nn.Module:
    """The model of configuration ``name`` (``"amfl.table1.f"``) as ``profile`` trains it, with
    ``num_classes`` training identities, created in the profile's ``dtype`` (float64 at ``smoke``);
    ``pretrained`` False leaves the backbone random instead of the profile's weights (ImageNet at
    ``paper``, the SynthReID stand-in at ``cpu`` — pretrained on first use, :mod:`reidlib.pretrain` —,
    none at ``smoke``)."""
    spec = model_spec(name, profile)
    prof = profile if isinstance(profile, Profile) else get_profile(profile, experiments.get(name).recipe)
    weights = prof.pretrained if pretrained else None
    if weights is not None and weights.startswith("standin-"):  # the cpu profile's ImageNet stand-in
        weights = standin_file(weights)
        if not weights.is_file():
            raise FileNotFoundError(
                f"{weights} not found: the cpu profile starts from a pretrained stand-in for ImageNet that this "
                "machine has not made yet; `python -m reidlib.pretrain` makes it (≈ 25 min on one core, once), "
                "and every `make reproduce-*` target does so before its first run")
    return build_model(spec, num_classes, weights, dtype=prof.torch_dtype)

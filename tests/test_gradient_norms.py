"""mechanisms.gradient_sentences: mean ± sd over seeds, the ratio to the reference and a seed-paired
t-interval judged on "MSGR lowers the input gradient"."""

import pandas as pd
import pytest

from reidlib import mechanisms


@pytest.fixture
def known(monkeypatch):
    rows = []
    for s, base in enumerate((1.0, 1.2, 0.8)):
        rows += [{"configuration": "ref", "seed": s, "l1": 100 * base, "l2": base},
                 {"configuration": "lower", "seed": s, "l1": 50 * base, "l2": base / 2},  # ×0.5, every seed
                 {"configuration": "noisy", "seed": s, "l1": 100 * base + (-1) ** s, "l2": base + 0.1 * (-1) ** s}]
    frame = pd.DataFrame(rows)
    monkeypatch.setattr(mechanisms, "gradient_norms", lambda run_dirs, device="auto": frame)


def test_gradient_sentences_verdicts(known):
    out = mechanisms.gradient_sentences({}, "ref")
    assert out[0].startswith("Claim: amfl Eq. 3–4")
    ref, lower, noisy = out[1:]
    assert ref == "ref: ‖∇ₓ‖₁ 100 ± 20; ‖∇ₓ‖₂ 1.00 ± 0.20 (reference)"  # 3 significant figures of the reference
    assert "‖∇ₓ‖₂ 0.50 ± 0.10 (×0.50 the reference; Δ -0.50 [" in lower and lower.count("→ holds") == 2
    assert noisy.count("→ can't tell") == 2


def test_one_seed_has_no_interval(monkeypatch):
    frame = pd.DataFrame([{"configuration": "ref", "seed": 0, "l1": 2200.0, "l2": 38.5},
                          {"configuration": "msgr", "seed": 0, "l1": 2143.4, "l2": 37.4}])
    monkeypatch.setattr(mechanisms, "gradient_norms", lambda run_dirs, device="auto": frame)
    out = mechanisms.gradient_sentences({}, "ref")
    assert out[2] == ("msgr: ‖∇ₓ‖₁ 2143 (×0.97 the reference; Δ -57 (one seed: no interval) → can't tell); "
                      "‖∇ₓ‖₂ 37.4 (×0.97 the reference; Δ -1.1 (one seed: no interval) → can't tell)")

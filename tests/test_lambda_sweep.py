"""reidlib.lambda_sweep: the verdicts on mmps §4.4's λ claims from constructed per-query hits."""

import numpy as np
import pandas as pd

from reidlib.lambda_sweep import CLAIMS, sentences

N = 600  # queries per test set


def _records(rates: dict[tuple[str, str], float], seeds=(0, 1, 2)) -> pd.DataFrame:
    """rank-1 hit rate per (λ, test set) -> records; hits are the first rate·N queries (so a higher rate
    hits a superset: paired differences are exact)."""
    recs = []
    for (lam, test), rate in rates.items():
        for s in seeds:
            hits = (np.arange(N) < round(rate * N)).astype(float)
            recs.append(dict(configuration=f"mmps.fig4.lam{lam}", train_dataset="synthreid", dataset=test, eval="",
                             seed=s, rank1=100 * hits.mean(), mAP=0.0, hits=hits, ap=hits))
    return pd.DataFrame(recs)


def test_claims_hold_when_the_default_wins_and_a_large_lambda_costs_the_training_domain_most():
    rates = {("0", "synthreid"): 0.60, ("1e-7", "synthreid"): 0.70, ("1e-4", "synthreid"): 0.40,
             ("0", "synthreid-duke"): 0.30, ("1e-7", "synthreid-duke"): 0.30, ("1e-4", "synthreid-duke"): 0.29}
    s = sentences(_records(rates))
    assert len(s) == 3 and s[0].startswith(CLAIMS[0]) and s[0].endswith("→ holds.")
    assert "70.0 → 40.0 %" in s[1] and "30.0 → 29.0 %" in s[1] and "= -29.0 [" in s[1] and s[1].endswith("→ holds.")
    assert s[2].startswith(CLAIMS[2]) and "synthreid-duke +10.0 [" in s[2] and "→ holds." in s[2]
    assert s[2].endswith("Best λ by mean rank-1: synthreid 1e-7, synthreid-duke 0.")


def test_a_lambda_beating_the_default_contradicts_claim_one_and_equal_drops_cannot_tell():
    rates = {("0", "synthreid"): 0.60, ("1e-7", "synthreid"): 0.60, ("1e-4", "synthreid"): 0.70,
             ("0", "synthreid-duke"): 0.30, ("1e-7", "synthreid-duke"): 0.30, ("1e-4", "synthreid-duke"): 0.40}
    s = sentences(_records(rates))
    assert "λ = 1e-4 beats it with a CI above 0 → contradicted." in s[0]
    assert "= +0.0 [" in s[1] and s[1].endswith("points → can't tell.")  # +10 on both: no difference
    assert "→ can't tell." in s[2]


def test_in_domain_only_and_missing_rows_are_said():
    rates = {("0", "synthreid"): 0.6, ("1e-7", "synthreid"): 0.6}
    s = sentences(_records(rates, seeds=(0,)))
    assert s[0].endswith("→ can't tell.") and "dataset=all" in s[1]
    assert "not judged" in sentences(_records({("1e-4", "synthreid"): 0.5}))[0]

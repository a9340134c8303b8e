"""The claims of mmps §4.4 about the exclusivity weight λ (Fig. 4), judged from a sweep's records.

mmps trains the full model on Market-1501 for each λ and tests it on Market-1501, DukeMTMC-reID and
CUHK03 (Fig. 4; the image is missing from the text we have, the claims are in §4.4):

1. "setting λ to 1e-7 is a good practice";
2. "when λ is too large, the accuracy drop on the original dataset is higher than that on other
   datasets" (the term reduces the generalisation error but raises the empirical one);
3. "the effectiveness of adding the regularization term varies among different datasets".

Our readings, where the paper leaves them open: (1) holds when λ = 1e-7 beats λ = 0 with a CI
excluding 0 and no λ of the sweep beats λ = 1e-7 with such a CI; contradicted when one does; can't tell
otherwise. (2) "too large" = the largest λ of the sweep, its drop measured against λ = 1e-7 on each
test set; the claim holds on a test set when Δ_train − Δ_other < 0 with a CI excluding 0
(:func:`reidlib.stats.delta_difference`). Drops are in rank-1 points, so a test set near the floor has
few points to lose: the sentence prints the levels. (3) holds when the gain of λ = 1e-7 over λ = 0 on
some other test set differs from the one on the training set (CI of the difference excludes 0); never
"contradicted" — equal gains within noise are "can't tell".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reidlib.stats import delta_difference, paired_delta, verdict

__all__ = ["CLAIMS", "sentences"]

CLAIMS = ("mmps §4.4: \"setting λ to 1e-7 is a good practice\"",
          "mmps §4.4: \"when λ is too large, the accuracy drop on the original dataset is higher than that on other "
          "datasets\"",
          "mmps §4.4: \"the effectiveness of adding the regularization term varies among different datasets\"")


def _lam(name: str) -> str:
    return name.rsplit(".", 1)[1].removeprefix("lam")


def _hits(records: pd.DataFrame, name: str, test: str) -> np.ndarray:
    """seeds x queries rank-1 hits (percent) of one configuration on one test set, seeds in order."""
    g = records[(records["configuration"] == name) & (records["dataset"] == test)].sort_values("seed")
    return 100.0 * np.stack([np.asarray(h, dtype=np.float64) for h in g["hits"]])


def sentences(records: pd.DataFrame, default: str = "mmps.fig4.lam1e-7", reference: str = "mmps.fig4.lam0") -> list[str]:
    """One sentence per claim of :data:`CLAIMS` with its verdict (module doc), from the records of
    :func:`reidlib.reproduce.reproduce` of mmps Fig. 4 (per-query rank-1 hits; paired 95 % CIs over
    seeds and queries). The rows are taken in their order, the last being the largest λ."""
    names = list(dict.fromkeys(records["configuration"]))
    train = records["train_dataset"].iloc[0]
    tests = list(dict.fromkeys(records["dataset"]))
    others = [t for t in tests if t != train]
    mean = {(n, t): float(_hits(records, n, t).mean()) for n in names for t in tests}
    if default not in names or reference not in names:
        return [f"{CLAIMS[0]} — not judged: the sweep lacks λ = {_lam(default)} or λ = {_lam(reference)}."]

    beaten = {n: paired_delta(_hits(records, default, train), _hits(records, n, train)) for n in names if n != default}
    better = [n for n, ci in beaten.items() if ci.low > 0]
    gain = paired_delta(_hits(records, reference, train), _hits(records, default, train))
    v1 = "contradicted" if better else "holds" if gain.low > 0 else "can't tell"
    best = max(names, key=lambda n: mean[(n, train)])
    out = [f"{CLAIMS[0]}. On {train} (the training domain) λ = {_lam(default)} reaches {mean[(default, train)]:.1f} % "
           f"rank-1, Δ against λ = 0 {gain} points; the best mean is λ = {_lam(best)} ({mean[(best, train)]:.1f} %)"
           + (f"; λ = {', '.join(_lam(n) for n in better)} beat{'s' if len(better) == 1 else ''} it with a CI above 0"
              if better else "; no λ beats it with a CI above 0") + f" → {v1}."]

    if not others:
        out.append(f"{CLAIMS[1]} — and claim 3 — need the other test sets: run with dataset=all (the make target "
                   "does).")
        return out
    big = names[-1]
    for other in others:
        ci = delta_difference(_hits(records, default, train), _hits(records, big, train),
                              _hits(records, default, other), _hits(records, big, other))
        out.append(f"{CLAIMS[1]} (λ = {_lam(big)} against {_lam(default)}): on {train} {mean[(default, train)]:.1f} → "
                   f"{mean[(big, train)]:.1f} %, on {other} {mean[(default, other)]:.1f} → {mean[(big, other)]:.1f} %; "
                   f"Δ on {train} − Δ on {other} = {ci} points → {verdict(ci, -1.0, min_claim=0)}.")
    diffs = {o: delta_difference(_hits(records, reference, train), _hits(records, default, train),
                                 _hits(records, reference, o), _hits(records, default, o)) for o in others}
    v3 = "holds" if any(ci.excludes_zero for ci in diffs.values()) else "can't tell"
    out.append(f"{CLAIMS[2]}: gain of λ = {_lam(default)} over λ = 0, on {train} minus on "
               + "; ".join(f"{o} {ci}" for o, ci in diffs.items()) + f" points → {v3}. Best λ by mean rank-1: "
               + ", ".join(f"{t} {_lam(max(names, key=lambda n, t=t: mean[(n, t)]))}" for t in tests) + ".")
    return out

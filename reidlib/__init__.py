"""reidlib: a reproducible companion to two person re-identification papers.

* **amfl** — Wang, *Adversarial Multi-scale Feature Learning for Person Re-identification*:
  MSFL (CSIP top-down pyramid + MSFF extra blocks) and MSGR (multi-scale gradient regulariser).
* **mmps** — Wang et al., *Multi-scale Multi-patch Person Re-Identification with Exclusivity
  Regularized Softmax*: multi-scale multi-patch network, normalized softmax, exclusivity regulariser.

Every table row of both papers is a named configuration in :mod:`reidlib.experiments`.
"""

__version__ = "0.1.0"

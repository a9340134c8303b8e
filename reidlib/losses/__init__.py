"""Losses of both papers: softmax cross-entropy (heads: :mod:`reidlib.models.heads`), exclusivity, batch-hard triplet, MSGR,
and :func:`training_step`, which combines them per a ``LossSpec``."""

from reidlib.losses.exclusivity import exclusivity, pairwise_angles
from reidlib.losses.msgr import msgr_penalty
from reidlib.losses.objective import training_step
from reidlib.losses.softmax import cross_entropy
from reidlib.losses.triplet import batch_hard_triplet

__all__ = ["training_step", "msgr_penalty", "exclusivity", "pairwise_angles", "cross_entropy", "batch_hard_triplet"]

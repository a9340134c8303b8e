"""Losses of both papers: softmax / normalized softmax CE, exclusivity, batch-hard triplet, MSGR,
and :func:`training_step`, which combines them per a ``LossSpec``."""

from reidlib.losses.exclusivity import exclusivity, pairwise_angles
from reidlib.losses.msgr import msgr_penalty
from reidlib.losses.objective import training_step
from reidlib.losses.softmax import NormalizedLinear, build_classifier, cross_entropy
from reidlib.losses.triplet import TripletLoss, batch_hard_triplet

__all__ = ["training_step", "msgr_penalty", "exclusivity", "pairwise_angles", "NormalizedLinear", "build_classifier",
           "cross_entropy", "TripletLoss", "batch_hard_triplet"]

"""Evaluation: CMC / mAP / mINP, distances, k-reciprocal re-ranking, multi-query, feature extraction."""

from reidlib.metrics.distance import cosine_distance, euclidean_distance
from reidlib.metrics.rank import evaluate, evaluate_rank

__all__ = ["cosine_distance", "euclidean_distance", "evaluate", "evaluate_rank"]

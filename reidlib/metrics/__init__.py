"""Evaluation: CMC / mAP / mINP, distances, k-reciprocal re-ranking, multi-query, feature extraction."""

from reidlib.metrics.distance import cosine_distance, euclidean_distance
from reidlib.metrics.features import extract_features
from reidlib.metrics.multiquery import pool_multi_query
from reidlib.metrics.rank import evaluate, evaluate_rank, per_query
from reidlib.metrics.rerank import re_ranking

__all__ = [
    "cosine_distance",
    "euclidean_distance",
    "evaluate",
    "evaluate_rank",
    "extract_features",
    "per_query",
    "pool_multi_query",
    "re_ranking",
]

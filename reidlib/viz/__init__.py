"""Figures: activation maps and Grad-CAM (amfl Fig. 3–4), retrieval lists (amfl Fig. 1), sweeps and
table trends (seaborn). Every function returns a matplotlib Figure; :func:`save_figure` writes it
atomically."""

from reidlib.viz import plots, runs
from reidlib.viz.activation import (
    SimilarityTarget,
    activation_figure,
    activation_map,
    gradcam_similarity,
    overlay,
)
from reidlib.viz.images import load_images, save_figure
from reidlib.viz.plots import (
    angle_plot,
    complexity_plot,
    cross_domain_plot,
    curve_plot,
    paper_vs_ours,
    sweep_plot,
    trend_plot,
)
from reidlib.viz.retrieval import rank_gallery, retrieval_figure

__all__ = [
    "activation_map",
    "overlay",
    "activation_figure",
    "SimilarityTarget",
    "gradcam_similarity",
    "load_images",
    "save_figure",
    "rank_gallery",
    "retrieval_figure",
    "sweep_plot",
    "trend_plot",
    "cross_domain_plot",
    "paper_vs_ours",
    "complexity_plot",
    "curve_plot",
    "angle_plot",
    "plots",
    "runs",
]

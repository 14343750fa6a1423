"""Stage 7 — reporting: quantitative visibility metrics of rendered images."""
from .metrics import (METRIC_NAMES, black_fraction, clipped_fraction, defect_auc, defect_cnr,
                      detected_fraction, mean_gradient, metrics_over_seeds, rms_contrast,
                      roc_auc, visibility_metrics, weber_contrasts)

__all__ = [
    "METRIC_NAMES", "black_fraction", "clipped_fraction", "defect_auc", "defect_cnr",
    "detected_fraction", "mean_gradient", "metrics_over_seeds", "rms_contrast", "roc_auc",
    "visibility_metrics", "weber_contrasts",
]

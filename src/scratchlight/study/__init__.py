"""The paper study: rerun the scratch-visibility paper's experiments and report them."""
from .pipeline import (CLAIMS, EXPERIMENTS, FULL, QUICK, SPARSE_LEVEL, Experiment, Settings,
                       colourfulness, convergence_stats, default_data_dir, map_stats,
                       pairwise_rms, reproduce, studio_envmap)
from .pipeline import _cases as surface_cases

__all__ = [
    "Settings", "QUICK", "FULL", "Experiment", "EXPERIMENTS", "CLAIMS", "SPARSE_LEVEL",
    "default_data_dir", "studio_envmap", "surface_cases", "colourfulness", "map_stats",
    "pairwise_rms", "convergence_stats", "reproduce",
]

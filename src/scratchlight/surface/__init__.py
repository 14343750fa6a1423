"""Stage 2 — preparing surfaces: filling, leveling, cropping, resampling, scratch maps;
synthetic machined surfaces with planted defects."""
from .prepare import crop, fill_missing, level_plane, prepare, resample
from .synthetic import KINDS as SYNTHETIC_KINDS, synthesize

__all__ = ["crop", "fill_missing", "level_plane", "prepare", "resample", "SYNTHETIC_KINDS",
           "synthesize"]

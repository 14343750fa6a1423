"""Stage 2 — preparing surfaces: filling, leveling, cropping, resampling, scratch maps."""
from .prepare import crop, fill_missing, level_plane, prepare, resample

__all__ = ["crop", "fill_missing", "level_plane", "prepare", "resample"]

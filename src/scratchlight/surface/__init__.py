"""Stage 2 — preparing surfaces: filling, leveling, cropping, resampling, scratch maps;
synthetic machined surfaces with planted defects."""
from .config import SurfaceConfig, load_surface
from .prepare import crop, fill_missing, level_plane, prepare, resample
from .synthetic import KINDS as SYNTHETIC_KINDS, synthesize

__all__ = ["SurfaceConfig", "load_surface", "crop", "fill_missing", "level_plane", "prepare", "resample", "SYNTHETIC_KINDS",
           "synthesize"]

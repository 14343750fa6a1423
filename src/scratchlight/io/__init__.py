"""Stage 1 — reading and writing files: height maps, environment maps, images."""
from .heightmap import HeightMap, READERS, check_heightmap, read_heightmap
from . import npy as _npy  # noqa: F401  (registers .npy/.npz)
from .npy import write_npz
from .images import read_envmap, read_png_mask, write_exr, write_png, tonemap

__all__ = [
    "HeightMap", "READERS", "check_heightmap", "read_heightmap", "write_npz",
    "read_envmap", "read_png_mask", "write_exr", "write_png", "tonemap",
]

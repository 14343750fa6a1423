"""The scratch map of the paper (section 5.1): where on the surface the scratches are.

1. Detrend: subtract a moving-average (box) filtered copy, kernel ``kernel`` cells (21).
2. Scale the detrended map linearly to [0, 1] (min -> 0, max -> 1).
3. Split into ``patch`` x ``patch`` cell patches (40); a patch whose max - min exceeds
   ``threshold`` (0.03) is marked 1 in every one of its cells. Edge patches may be smaller.

The result is a (ny, nx) bool map in height-map space; ``Scene.cell_mask_to_image`` carries
it into image space, where it becomes the objective's mask M (intersected with the object
mask).
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["detrend", "scratch_map"]


def detrend(heights: np.ndarray, kernel: int = 21) -> np.ndarray:
    """heights minus its ``kernel`` x ``kernel`` moving average (edges: nearest), (ny, nx)."""
    if kernel < 1:
        raise ValueError(f"kernel must be >= 1, got {kernel}")
    h = np.asarray(heights, np.float64)
    if not np.isfinite(h).all():
        raise ValueError("heights contain missing points; call surface.fill_missing first")
    return h - ndimage.uniform_filter(h, size=kernel, mode="nearest")


def scratch_map(heights: np.ndarray, kernel: int = 21, patch: int = 40,
                threshold: float = 0.03) -> np.ndarray:
    """Binary scratch map (ny, nx) bool of a filled height map ``heights`` (ny, nx)."""
    if patch < 1:
        raise ValueError(f"patch must be >= 1, got {patch}")
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    d = detrend(heights, kernel)
    lo, hi = d.min(), d.max()
    scaled = (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)
    ny, nx = scaled.shape
    out = np.zeros((ny, nx), bool)
    for i in range(0, ny, patch):
        for j in range(0, nx, patch):
            block = scaled[i:i + patch, j:j + patch]
            if block.max() - block.min() > threshold:
                out[i:i + patch, j:j + patch] = True
    return out

"""Masks of a prepared surface in image space: the object, its scratch map, a region file,
its ground truth.

A mask is an (h, w) bool array over the image of a scene (True: the pixel counts). Masks
are defined on the height map's cells and carried to the image by the scene's pixel ->
cell map, passed in as ``to_image`` (``scene.Scene.cell_mask_to_image``: (ny, nx) bool on
the prepared height map's cells -> (h, w) bool), so this module needs no scene of its own.
Every mask is intersected with the object mask: pixels fully on the surface.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap

__all__ = ["SurfaceMasks", "MIN_MASK_PIXELS"]

MIN_MASK_PIXELS = 4
"""A region must keep at least this many surface pixels of the image."""


@dataclasses.dataclass
class SurfaceMasks:
    """The masks of one prepared surface seen by one camera.

    Attributes:
        object_mask: (h, w) bool, pixels fully on the surface.
        to_image: ``to_image(cells) -> (h, w) bool`` for an (ny, nx) bool mask on the
            prepared height map's cells.
        heightmap: the prepared height map (heights (ny, nx) float metres; ``truth``
            (ny, nx) bool or None).
        raw_shape: (rows, columns) of the height map as read, before crop and resampling:
            the grid of a region PNG.
        crop: (x0, y0, width, height) in the raw grid, cells, or None.
    """

    object_mask: np.ndarray
    to_image: Callable[[np.ndarray], np.ndarray]
    heightmap: HeightMap
    raw_shape: tuple[int, int]
    crop: tuple[int, int, int, int] | None = None

    def truth(self) -> np.ndarray | None:
        """(h, w) bool ground-truth defect pixels (synthetic surfaces), or None when the
        height map has no truth mask or an empty one."""
        truth = self.heightmap.truth
        if truth is None or not truth.any():
            return None
        return self.to_image(truth) & self.object_mask

    def scratch(self, kernel: int = 21, patch: int = 40, threshold: float = 0.03) -> np.ndarray:
        """(h, w) bool: the scratch map of the prepared heights (``surface.scratchmap``:
        moving-average ``kernel`` and ``patch`` in cells, ``threshold`` on the [0, 1]-scaled
        detrended map) within the object mask."""
        from .scratchmap import scratch_map

        cells = scratch_map(self.heightmap.heights, kernel, patch, threshold)
        return self.object_mask & self.to_image(cells)

    def from_png(self, path: str) -> np.ndarray:
        """(h, w) bool: a PNG mask (white = in) in the grid of the height-map file as read,
        cropped and resampled like the heights, within the object mask."""
        from ..io.images import read_png_mask
        from .prepare import resample_mask

        roi = read_png_mask(path)
        if roi.shape != tuple(self.raw_shape):
            ny, nx = self.raw_shape
            raise InputError(path, f"mask is {roi.shape[1]} x {roi.shape[0]} but the height "
                                   f"map is {nx} x {ny}")
        if self.crop is not None:
            x0, y0, cx, cy = (int(v) for v in self.crop)
            roi = roi[y0:y0 + cy, x0:x0 + cx]
        return self.object_mask & self.to_image(resample_mask(roi, self.heightmap.shape))

    def region(self, region: str | np.ndarray, kernel: int = 21, patch: int = 40,
               threshold: float = 0.03) -> np.ndarray:
        """The (h, w) bool pixels of ``region`` within the object mask.

        ``region``: 'object'; 'scratch' (:meth:`scratch` with ``kernel``, ``patch`` and
        ``threshold``); a PNG path (:meth:`from_png`); or an (h, w) bool array in image
        space. InputError (``light.mask``, or the PNG's path) when it does not fit the
        image or leaves fewer than ``MIN_MASK_PIXELS`` pixels.
        """
        M = self.object_mask.copy()
        if isinstance(region, np.ndarray):
            region = np.asarray(region, bool)
            if region.shape != M.shape:
                raise InputError("light.mask", f"mask of shape {region.shape} does not match the "
                                               f"image {M.shape}")
            M &= region
        elif region == "object":
            return M
        elif region == "scratch":
            M = self.scratch(kernel, patch, threshold)
        else:
            M = self.from_png(region)
        if M.sum() < MIN_MASK_PIXELS:
            raise InputError(region if isinstance(region, str) and region != "scratch" else "light.mask",
                             f"the mask leaves fewer than {MIN_MASK_PIXELS} surface pixels in the image")
        return M

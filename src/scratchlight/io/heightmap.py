"""Validating raw height data into a :class:`~scratchlight.heightmap.HeightMap`, and the
reader that picks a file format by extension."""
from __future__ import annotations

import os
from typing import Callable

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap

__all__ = ["read_heightmap", "READERS", "check_heightmap"]


def check_heightmap(heights, dx, dy, source: str = "", valid=None, truth=None) -> HeightMap:
    """Validate raw arrays and build a HeightMap; raise InputError naming ``source``.

    Rejects non-2-D data, grids smaller than 3 x 3, non-positive or non-finite spacing,
    infinite heights and maps where every point is missing.
    """
    h = np.asarray(heights, dtype=np.float64)
    if h.ndim != 2:
        raise InputError(source, f"height data must be 2-D, got shape {h.shape}")
    if h.shape[0] < 3 or h.shape[1] < 3:
        raise InputError(source, f"grid {h.shape[1]} x {h.shape[0]} is smaller than 3 x 3")
    for name, v in (("dx", dx), ("dy", dy)):
        if not np.isfinite(v) or v <= 0:
            raise InputError(source, f"spacing {name} must be positive, got {v}")
    h = h.copy()
    if np.isinf(h).any():
        raise InputError(source, "height data contains infinite values")
    v = np.isfinite(h)
    if valid is not None:
        v &= np.asarray(valid, dtype=bool)
    h[~v] = np.nan
    if not v.any():
        raise InputError(source, "every point of the height map is missing")
    if truth is not None:
        truth = np.asarray(truth, dtype=bool)
        if truth.shape != h.shape:
            raise InputError(source, f"truth mask shape {truth.shape} differs from heights {h.shape}")
    return HeightMap(heights=h, dx=float(dx), dy=float(dy), valid=v, source=str(source), truth=truth)


# Extension (lower case, with dot) -> reader(path) -> HeightMap. Filled in by the format modules.
READERS: dict[str, Callable[[str], HeightMap]] = {}


def read_heightmap(path: str | os.PathLike) -> HeightMap:
    """Read a height map file; the format is chosen by the file extension.

    Supported: .npy, .npz, .tif/.tiff, .x3p, .sur, .csv/.txt/.asc (see ``READERS``), and
    many instrument formats when SurfaceTopography is installed (``io.fields``).
    Raises InputError (one line, naming the file) for a missing, unknown or corrupt file.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in READERS:
        from .fields import FIELDS_EXTENSIONS

        if ext in FIELDS_EXTENSIONS:
            raise InputError(path, f"reading {ext} files needs the optional SurfaceTopography "
                                   "package (pip install SurfaceTopography)")
        raise InputError(path, f"unknown height-map extension {ext or '(none)'!r}; "
                               f"supported: {', '.join(sorted(READERS))}")
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    try:
        return READERS[ext](path)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, IndexError, EOFError) as e:
        raise InputError(path, f"cannot read {ext} file: {e}") from None

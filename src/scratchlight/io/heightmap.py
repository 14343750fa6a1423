"""Validating raw height data into a :class:`~scratchlight.heightmap.HeightMap`, and the
reader that picks a file format by extension."""
from __future__ import annotations

import os
import warnings
from typing import Callable, Mapping

import numpy as np

from ..errors import InputError, InputWarning
from ..heightmap import HeightMap
from .guards import check_point_count, check_regular_file, format_bytes

__all__ = ["read_heightmap", "READERS", "OPTIONAL_READERS", "check_heightmap",
           "MAX_ABS_HEIGHT_M", "SPACING_RANGE_M", "default_spacing_warning"]

MAX_ABS_HEIGHT_M = 1e3
"""Heights beyond +-1 km are no surface measurement: a wrong unit or a damaged file."""
SPACING_RANGE_M = (1e-12, 1e3)
"""Spacings outside 1 pm .. 1 km are refused for the same reason."""


def default_spacing_warning(spacing_m: float) -> str:
    """The warning of a reader that had to assume the spacing."""
    return (f"the file states no spacing; {spacing_m * 1e6:g} um assumed (sizes, slopes and "
            "renders depend on it: give the spacing in the file's header or a sidecar)")


def check_heightmap(heights, dx, dy, source: str = "", valid=None, truth=None,
                    provenance: Mapping[str, str] | None = None,
                    warnings: tuple[str, ...] | list[str] = ()) -> HeightMap:
    """Validate raw arrays and build a HeightMap; raise InputError naming ``source``.

    ``heights`` in metres, ``dx``/``dy`` in metres. Rejects non-2-D data, grids smaller
    than 3 x 3 or above the point limit, spacings that are not finite or outside
    ``SPACING_RANGE_M``, infinite heights or heights beyond ``MAX_ABS_HEIGHT_M``, and maps
    where every point is missing. ``provenance`` and ``warnings`` are kept on the map.
    """
    h = np.asarray(heights)
    if h.ndim != 2:
        raise InputError(source, f"height data must be 2-D, got shape {h.shape}")
    if h.shape[0] < 3 or h.shape[1] < 3:
        raise InputError(source, f"grid {h.shape[1]} x {h.shape[0]} is smaller than 3 x 3")
    check_point_count(source, h.shape[1], h.shape[0])
    for name, v in (("dx", dx), ("dy", dy)):
        if not np.isfinite(v) or v <= 0:
            raise InputError(source, f"spacing {name} must be positive, got {v}")
        if not SPACING_RANGE_M[0] <= v <= SPACING_RANGE_M[1]:
            raise InputError(source, f"spacing {name} = {v:g} m is outside "
                                     f"{SPACING_RANGE_M[0]:g} .. {SPACING_RANGE_M[1]:g} m "
                                     "(a wrong unit or a damaged header)")
    h = np.array(h, dtype=np.float64)  # always a copy
    if np.isinf(h).any():
        raise InputError(source, "height data contains infinite values")
    v = np.isfinite(h)
    if valid is not None:
        v &= np.asarray(valid, dtype=bool)
    if not v.all():
        h[~v] = np.nan
    # NaN-ignoring reductions: no |h| copy of a large grid
    worst = max(float(np.fmax.reduce(h, axis=None)), -float(np.fmin.reduce(h, axis=None)))
    if worst > MAX_ABS_HEIGHT_M:
        raise InputError(source, f"heights reach {worst:.3g} m, beyond +-{MAX_ABS_HEIGHT_M:g} m: "
                                 "a wrong height unit or a damaged file")
    if not v.any():
        raise InputError(source, "every point of the height map is missing")
    if truth is not None:
        truth = np.asarray(truth, dtype=bool)
        if truth.shape != h.shape:
            raise InputError(source, f"truth mask shape {truth.shape} differs from heights {h.shape}")
    return HeightMap(heights=h, dx=float(dx), dy=float(dy), valid=v, source=str(source),
                     truth=truth, provenance=dict(provenance or {}), warnings=tuple(warnings))


# Extension (lower case, with dot) -> reader(path) -> HeightMap. Filled in by the format modules.
READERS: dict[str, Callable[[str], HeightMap]] = {}
# Extension -> the optional package (its pip name) that reads it, for the error when that
# package is not installed. Filled in by ``io`` from ``io.fields`` (which imports this
# module, so this module cannot import it).
OPTIONAL_READERS: dict[str, str] = {}


def read_heightmap(path: str | os.PathLike) -> HeightMap:
    """Read a height map file; the format is chosen by the file extension.

    Supported: .npy, .npz, .tif/.tiff, .x3p, .sur, .csv/.txt/.asc (see ``READERS``), and
    many instrument formats when SurfaceTopography is installed (``io.fields``).
    Raises InputError (one line, naming the file) for a missing, unknown or corrupt file,
    for anything but a regular file, and for a grid above the point limit
    (``io.guards``). What the reader noticed but accepted (``HeightMap.warnings``, e.g. a
    spacing assumed by default) is issued as an ``InputWarning`` after a successful read.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in READERS:
        if ext in OPTIONAL_READERS:
            package = OPTIONAL_READERS[ext]
            raise InputError(path, f"reading {ext} files needs the optional {package} "
                                   f"package (pip install {package})")
        raise InputError(path, f"unknown height-map extension {ext or '(none)'!r}; "
                               f"supported: {', '.join(sorted(READERS))}")
    check_regular_file(path)
    try:
        hm = READERS[ext](path)
    except InputError:
        raise
    except MemoryError:
        size = os.path.getsize(path)
        raise InputError(path, f"not enough memory to read this {format_bytes(size)} file") from None
    except (OSError, ValueError, KeyError, IndexError, EOFError, OverflowError) as e:
        text = str(e).strip().splitlines()
        raise InputError(path, f"cannot read {ext} file: {text[0] if text else type(e).__name__}") from None
    if hm.warnings:  # one line for all of them
        warnings.warn(InputWarning(path, "; ".join(hm.warnings)), stacklevel=2)
    return hm

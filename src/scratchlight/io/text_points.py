"""Text files of points (x, y, z per line) rather than a grid of heights.

A text file with exactly three numeric columns and no header that states a grid spacing
is a table of points. When its x and y coordinates lie on a regular lattice (each an
equally spaced set of values; rows in any order; at most one point per node; at least half
of the nodes present) it is read as a grid: the spacings come from the coordinates, nodes
without a point are missing. Otherwise it is a scattered point cloud and refused: turning
it into a grid would need an interpolation the file does not describe. Two numeric
columns are a line scan (a profile), which is not an areal height map.

The z column is the third unless a column-name line (``x y z``, ``X[um] Y[um] Z[nm]``)
says otherwise; when x and y do not form a lattice in columns 1 and 2, the other pairs are
tried.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import InputError
from .guards import check_point_count

__all__ = ["COLUMN_NAMES", "parse_column_names", "lattice_index", "points_to_grid"]

COLUMN_NAMES = re.compile(r"^([xyz])\s*(?:[\[(]\s*([^\])]*?)\s*[\])])?$", re.IGNORECASE)
_MIN_COVERAGE = 0.5


def parse_column_names(tokens: list[str]) -> tuple[list[str], list[str | None]] | None:
    """(['x', 'y', 'z'], [units or None]) when every token names a coordinate, else None."""
    names, units = [], []
    for t in tokens:
        m = COLUMN_NAMES.match(t.strip())
        if not m:
            return None
        names.append(m.group(1).lower())
        units.append(m.group(2) or None)
    if len(set(names)) != len(names) or len(names) not in (2, 3):
        return None
    return names, units


def lattice_index(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(integer index of each value, spacing) when ``values`` lie on an equally spaced
    lattice v0 + k * spacing (to 1 % of the spacing), else None."""
    v = np.asarray(values, np.float64)
    if not np.isfinite(v).all():
        return None
    lo, hi = float(v.min()), float(v.max())
    if hi <= lo:
        return None
    u = np.unique(v)
    gaps = np.diff(u)
    tol = 1e-9 * max(abs(lo), abs(hi), hi - lo)
    steps = gaps[gaps > tol]  # near-equal values are one lattice node (rounding noise)
    if steps.size == 0:
        return None
    spacing = float(np.min(steps))
    # the smallest step may be noise-shortened; refine with the steps close to it
    near = steps[steps < 1.5 * spacing]
    spacing = float(np.median(near))
    k = (v - lo) / spacing
    index = np.rint(k)
    if np.max(np.abs(k - index)) > 0.01:
        return None
    return index.astype(np.int64), spacing


def points_to_grid(path: str, x: np.ndarray, y: np.ndarray, z: np.ndarray):
    """(heights (ny, nx) with NaN where no point, dx, dy) of points on a regular lattice;
    InputError for a scattered point cloud or duplicate points."""
    n = len(z)
    ix, iy = lattice_index(x), lattice_index(y)
    if ix is None or iy is None:
        raise InputError(path, f"{n} x, y, z points that do not lie on a regular grid: a "
                               "scattered point cloud, which would need an interpolation the "
                               "file does not describe (a grid only 3 points wide needs a "
                               "'# dx = ...' header line)")
    (jx, dx), (jy, dy) = ix, iy
    nx, ny = int(jx.max()) + 1, int(jy.max()) + 1
    if nx < 3 or ny < 3:
        raise InputError(path, f"the points span {nx} x {ny} grid nodes, fewer than 3 x 3")
    if nx * ny > n / _MIN_COVERAGE:
        raise InputError(path, f"{n} x, y, z points fill only {100 * n / (nx * ny):.1f} % of "
                               f"the {nx} x {ny} grid their coordinates span: a scattered "
                               "point cloud, not a grid")
    check_point_count(path, nx, ny)
    flat = jy * nx + jx
    if np.unique(flat).size != n:
        raise InputError(path, "several points share the same x, y grid node")
    heights = np.full(nx * ny, np.nan)
    heights[flat] = z
    return heights.reshape(ny, nx), dx, dy

"""Straight scratches of chosen size and orientation, planted one per cell of a layout.

A plate is a surface with up to ``grid`` x ``grid`` planted scratches, one in each cell of
a regular layout, so that every scratch has its own region of interest and the observer's
window of one never reaches another (the cells are far wider than the window). Each
scratch is a straight groove through its cell's centre (jittered by up to 10 % of the
cell), of length ``length_fraction`` of the cell side, at ``orientation_deg`` from the x
axis (the grid's columns, the feed direction of the synthetic kinds) towards +y (rows),
with the V or round cross-section of ``surface.synthetic.defects`` and the same taper over
the first and last 10 % of its length. A cell's truth is where its groove removes more than
``TRUTH_FRACTION`` of its depth. Planting only removes material, so the surface without the
plate's scratches is its defect-free twin.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..errors import InputError
from ..surface.synthetic import TRUTH_FRACTION

__all__ = ["Defect", "plate_layout", "plant_plate"]


@dataclasses.dataclass(frozen=True)
class Defect:
    """One planted scratch: depth and width in metres, orientation in degrees [0, 180),
    the surface seed it is planted on, and its index in the sweep."""

    index: int
    depth: float
    width: float
    orientation_deg: float
    seed: int


def plate_layout(shape: tuple[int, int], grid: int) -> list[tuple[slice, slice]]:
    """The ``grid`` x ``grid`` cells (row slice, column slice) of a (ny, nx) map, row by
    row; each cell at least 12 points wide."""
    ny, nx = shape
    if grid < 1 or min(ny, nx) // grid < 12:
        raise InputError("grid", f"{grid} x {grid} cells on a {nx} x {ny} grid leave under 12 "
                                 "points per cell; use fewer cells or a larger surface")
    rows = np.linspace(0, ny, grid + 1).round().astype(int)
    cols = np.linspace(0, nx, grid + 1).round().astype(int)
    return [(slice(rows[i], rows[i + 1]), slice(cols[j], cols[j + 1]))
            for i in range(grid) for j in range(grid)]


def _groove(cell_shape, spacing: float, defect: Defect, length: float, centre, profile: str):
    """Material removed (metres) by one straight groove in a cell of ``cell_shape``."""
    ny, nx = cell_shape
    y, x = np.mgrid[0:ny, 0:nx].astype(np.float64) * spacing
    t = math.radians(defect.orientation_deg)
    u = (x - centre[0]) * math.cos(t) + (y - centre[1]) * math.sin(t)  # along the groove
    v = -(x - centre[0]) * math.sin(t) + (y - centre[1]) * math.cos(t)  # across it
    hw, D = defect.width / 2, defect.depth
    s = u + length / 2  # arc length from the start
    taper = np.clip(np.minimum(s, length - s) / (0.1 * length), 0.0, 1.0)
    d = np.abs(v)
    if profile == "v":
        prof = D * taper - d * (D / hw)
    else:
        rho = (hw * hw + D * D) / (2 * D)
        prof = D * taper - (rho - np.sqrt(np.maximum(rho * rho - d * d, 0.0)))
    return np.where((d <= hw) & (s >= 0) & (s <= length), np.maximum(prof, 0.0), 0.0)


def plant_plate(shape: tuple[int, int], spacing: float, defects: list[Defect], grid: int,
                length_fraction: float = 0.6, profile: str = "v",
                rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Plant ``defects`` (at most grid^2) one per cell of :func:`plate_layout`.

    Args:
        shape: (ny, nx) grid points; spacing: grid spacing, metres.
        defects: the scratches, in cell order (row by row).
        length_fraction: scratch length as a fraction of the cell's smaller side.
        profile: 'v' or 'round'.
        rng: jitters each centre by up to 10 % of the cell (None: no jitter).

    Returns:
        ``removal`` (ny, nx) float64 >= 0 in metres, and ``labels`` (ny, nx) int32: k + 1
        on the truth cells of ``defects[k]``, 0 elsewhere.
    """
    cells = plate_layout(shape, grid)
    if len(defects) > len(cells):
        raise InputError("grid", f"{len(defects)} defects do not fit {len(cells)} cells")
    if profile not in ("v", "round"):
        raise InputError("profile", f"must be 'v' or 'round', got {profile!r}")
    if not 0.0 < length_fraction <= 0.9:
        raise InputError("length_fraction", f"must be in (0, 0.9], got {length_fraction}")
    removal = np.zeros(shape)
    labels = np.zeros(shape, np.int32)
    for k, (defect, (rs, cs)) in enumerate(zip(defects, cells)):
        ny, nx = rs.stop - rs.start, cs.stop - cs.start
        side = min(ny, nx) * spacing
        if defect.width >= side * (1.0 - length_fraction):
            raise InputError("widths_um", f"a {defect.width * 1e6:.3g} um wide scratch does not "
                                          f"fit a {side * 1e6:.0f} um cell with room around it")
        centre = np.array([(nx - 1) / 2, (ny - 1) / 2]) * spacing
        if rng is not None:
            centre = centre + rng.uniform(-0.1, 0.1, 2) * side
        r = _groove((ny, nx), spacing, defect, length_fraction * side, centre, profile)
        removal[rs, cs] = r
        labels[rs, cs] = np.where(r > TRUTH_FRACTION * defect.depth, k + 1, 0)
    return removal, labels

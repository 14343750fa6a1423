"""The part's pose on the stage: an in-plane rotation and a small tilt of a height map.

A part turned on the stage by theta under a fixed camera and fixed lights is the same
picture as the camera and the lights turned by -theta about the part; the exact and
simplest way to render it is to turn the part itself, i.e. to resample its height map on a
grid rotated by theta about the map's centre (:func:`rotate_heightmap`). The frame is the
grid's: x along columns, y along rows; +theta turns the heights counter-clockwise in that
(x, y) frame, so +90 degrees is ``np.rot90(heights, -1)`` exactly (bilinear weights are 0
or 1 there). Heights are resampled bilinearly, the ``valid`` and ``truth`` masks by the
nearest point; points whose source lies off the grid are not valid. A rotated square
keeps a full central window of side n / (|cos theta| + |sin theta|)
(:func:`rotation_window`), which :func:`central_window` cuts out, so that every pose of a
set shows the same area with no invented corners.

A small tilt t (degrees) of the part about the grid's y axis raises its +x side: the
rendered geometry gains the slope tan(t). The scene multiplies heights by its exaggeration
e, so :func:`tilt_heightmap` adds the plane tan(t) (x - x_c) / e: after exaggeration the
part is tilted by t, as a real part on the stage would be (the plane is a shear, which for
a tilt of a few degrees differs from a rotation by under (1 - cos t) ~ 0.15 % at 3 degrees).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap

__all__ = ["rotate_heightmap", "tilt_heightmap", "rotation_window", "central_window"]


def _cos_sin(degrees: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact (0, +-1) at multiples of 90 degrees."""
    r = math.radians(float(degrees))
    c, s = math.cos(r), math.sin(r)
    return (round(c) if abs(c - round(c)) < 1e-12 else c,
            round(s) if abs(s - round(s)) < 1e-12 else s)


def rotate_heightmap(hm: HeightMap, degrees: float) -> HeightMap:
    """``hm`` turned by ``degrees`` about its centre in the grid's (x, y) frame (module
    docstring); same shape (ny, nx), spacing and units (metres). Needs dx == dy."""
    from scipy import ndimage

    if not math.isclose(hm.dx, hm.dy, rel_tol=1e-9):
        raise InputError("over", f"rotation needs a square grid spacing, got dx {hm.dx:g} m, "
                                 f"dy {hm.dy:g} m")
    if float(degrees) == 0.0:
        return hm
    c, s = _cos_sin(degrees)
    ny, nx = hm.shape
    yc, xc = (ny - 1) / 2.0, (nx - 1) / 2.0
    rows, cols = np.mgrid[0:ny, 0:nx].astype(np.float64)
    # output point (x, y) samples the input at R(-theta) (x - xc, y - yc) + centre
    x, y = cols - xc, rows - yc
    src_x = c * x + s * y + xc
    src_y = -s * x + c * y + yc
    coords = np.array([src_y, src_x])
    heights = np.where(hm.valid, np.nan_to_num(hm.heights), 0.0)
    out = ndimage.map_coordinates(heights, coords, order=1, mode="constant", cval=0.0)
    inside = ((src_x > -0.5) & (src_x < nx - 0.5) & (src_y > -0.5) & (src_y < ny - 0.5))
    nearest = np.array([np.clip(np.rint(src_y), 0, ny - 1), np.clip(np.rint(src_x), 0, nx - 1)]
                       ).astype(np.intp)
    valid = hm.valid[nearest[0], nearest[1]] & inside
    truth = None if hm.truth is None else hm.truth[nearest[0], nearest[1]] & valid
    return hm.replace(heights=np.where(valid, out, np.nan), valid=valid, truth=truth,
                      source=f"{hm.source} rotated {float(degrees):g} deg")


def tilt_heightmap(hm: HeightMap, degrees: float, exaggeration: float) -> HeightMap:
    """``hm`` tilted by ``degrees`` about the grid's y axis as rendered with height
    ``exaggeration`` (module docstring): heights + tan(t) (x - x_c) / e, metres."""
    if float(degrees) == 0.0:
        return hm
    nx = hm.shape[1]
    x = (np.arange(nx) - (nx - 1) / 2.0) * hm.dx
    slope = math.tan(math.radians(float(degrees))) / float(exaggeration)
    return hm.replace(heights=hm.heights + slope * x[None, :],
                      source=f"{hm.source} tilted {float(degrees):g} deg")


def rotation_window(shape: tuple[int, int], degrees) -> int:
    """Side (points) of the central square that stays on the grid for every angle of
    ``degrees``: floor(min(ny, nx) / max(|cos| + |sin|)), less one point of margin when
    any angle is not a multiple of 90 degrees."""
    worst = max(sum(abs(v) for v in _cos_sin(d)) for d in degrees)
    side = int(math.floor(min(shape) / worst + 1e-9))
    return side - (1 if worst > 1.0 else 0)


def central_window(hm: HeightMap, side: int) -> HeightMap:
    """The central ``side`` x ``side`` points of ``hm`` (all of it when it is that size)."""
    ny, nx = hm.shape
    if side >= ny and side >= nx:
        return hm
    i0, j0 = (ny - side) // 2, (nx - side) // 2
    cut = (slice(i0, i0 + side), slice(j0, j0 + side))
    return hm.replace(heights=hm.heights[cut], valid=hm.valid[cut],
                      truth=None if hm.truth is None else hm.truth[cut])

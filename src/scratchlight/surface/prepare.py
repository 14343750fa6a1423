"""Preparing a height map for rendering: fill voids, level, crop, resample.

Every function takes a HeightMap and returns a new one; inputs are never modified.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap

__all__ = ["fill_missing", "level_plane", "crop", "resample", "resample_mask", "prepare"]


def fill_missing(hm: HeightMap) -> HeightMap:
    """Replace missing points by the height of the nearest measured point.

    Nearest-neighbour filling never creates heights outside the measured range and needs
    no iteration, so voids of any size are filled in one pass. ``valid`` is kept as it
    was, so later stages still know which points were measured.
    """
    if hm.valid.all():
        return hm
    if not hm.valid.any():
        raise InputError(hm.source, "every point of the height map is missing")
    from scipy import ndimage  # here: SciPy's import costs every command's start
    _, (ii, jj) = ndimage.distance_transform_edt(~hm.valid, return_indices=True)
    filled = hm.heights[ii, jj]
    return hm.replace(heights=filled)


def level_plane(hm: HeightMap) -> HeightMap:
    """Subtract the least-squares plane z = a x + b y + c fitted to the measured points.

    Solved by its 3 x 3 normal equations in coordinates centred on the grid, whose sums
    are row and column reductions of the masked heights: no (points x 3) design matrix, so
    a 5000 x 5000 grid levels in well under a second and a few hundred MB.
    """
    ny, nx = hm.shape
    v = hm.valid & np.isfinite(hm.heights)
    x = (np.arange(nx) - 0.5 * (nx - 1)) * hm.dx          # metres, centred
    y = (np.arange(ny) - 0.5 * (ny - 1)) * hm.dy
    full = bool(v.all())  # most maps: no masked copy of the heights, no mask products
    z = hm.heights if full else np.where(v, hm.heights, 0.0)
    if full:
        cols, rows = np.full(nx, float(ny)), np.full(ny, float(nx))
        sxy = y.sum() * x.sum()
    else:
        cols, rows = v.sum(axis=0, dtype=np.float64), v.sum(axis=1, dtype=np.float64)
        sxy = y @ (v @ x)
    n = cols.sum()
    sx, sy = x @ cols, y @ rows
    normal = np.array([[x * x @ cols, sxy, sx],
                       [sxy, y * y @ rows, sy],
                       [sx, sy, n]])
    rhs = np.array([(z @ x).sum(), y @ z.sum(axis=1), z.sum()])
    try:
        a, b, c = np.linalg.solve(normal, rhs)
    except np.linalg.LinAlgError:  # the points are on one line: its least-squares plane
        a, b, c = np.linalg.lstsq(normal, rhs, rcond=None)[0]
    levelled = hm.heights - c  # the one new array: the plane is subtracted in place
    levelled -= a * x[None, :]
    levelled -= (b * y)[:, None]
    return hm.replace(heights=levelled)


def crop(hm: HeightMap, x0: int, y0: int, nx: int, ny: int) -> HeightMap:
    """Keep columns ``x0 .. x0+nx-1`` and rows ``y0 .. y0+ny-1`` (grid indices)."""
    H, W = hm.shape
    if not (0 <= x0 and 0 <= y0 and nx >= 3 and ny >= 3 and x0 + nx <= W and y0 + ny <= H):
        raise InputError(hm.source, f"crop {x0},{y0},{nx},{ny} does not fit inside the "
                                    f"{W} x {H} grid (or is smaller than 3 x 3)")
    s = (slice(y0, y0 + ny), slice(x0, x0 + nx))
    truth = None if hm.truth is None else hm.truth[s].copy()
    return hm.replace(heights=hm.heights[s].copy(), valid=hm.valid[s].copy(), truth=truth)


def _edge_weights(kernel: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights the 'nearest' boundary gives the first and the last sample at each of ``n``
    outputs: the kernel mass that falls before index 0 and after index n - 1."""
    r = kernel.size // 2
    i = np.arange(n)
    cum = np.concatenate([[0.0], np.cumsum(kernel)])  # cum[m] = weight of offsets < m - r
    left = cum[np.clip(r - i, 0, kernel.size)]
    right = 1.0 - cum[np.clip(r + n - i, 0, kernel.size)]
    return left, right


def _blur_axis_wide(h: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Gaussian ``kernel`` along ``axis`` with 'nearest' edges, for a kernel too wide for
    direct convolution: a dense matrix on a short axis, FFT on a long one."""
    from scipy.signal import fftconvolve

    a = np.moveaxis(h, axis, 0)
    n, r = a.shape[0], kernel.size // 2
    left, right = _edge_weights(kernel, n)
    if n <= 256:
        offsets = np.arange(n)[None, :] - np.arange(n)[:, None]  # j - i
        m = np.where(np.abs(offsets) <= r, kernel[np.clip(offsets + r, 0, kernel.size - 1)], 0.0)
        out = m @ a
    else:
        out = fftconvolve(a, kernel[:, None], mode="full", axes=0)[r:r + n]
    out = out + left[:, None] * a[:1] + right[:, None] * a[-1:]
    return np.moveaxis(out, 0, axis)


def _gaussian_blur(h: np.ndarray, sigma: float) -> np.ndarray:
    """``ndimage.gaussian_filter(h, sigma, mode="nearest")``, also fast when the kernel is
    very wide (a long grid shrunk a lot, e.g. 3 x 3,000,000 points): such an axis is
    filtered with the same kernel by a dense matrix (short axis) or FFT (long axis)."""
    out = np.asarray(h, dtype=np.float64)
    radius = int(4.0 * sigma + 0.5)  # gaussian_filter's default truncate=4
    if sigma <= 0:
        return out.copy()
    if radius <= 64:
        from scipy import ndimage  # here: SciPy's import costs every command's start
        return ndimage.gaussian_filter(out, sigma=sigma, mode="nearest")
    x = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (x / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (0, 1):
        out = _blur_axis_wide(out, kernel, axis)
    return out


def resample(hm: HeightMap, max_size: int) -> HeightMap:
    """Shrink the grid so neither side exceeds ``max_size`` points, keeping the physical extent.

    A Gaussian prefilter (sigma = (factor - 1) / 2 cells) removes detail finer than the new
    spacing before bilinear resampling, so fine marks do not alias into false patterns.
    Missing points must be filled first. Maps already small enough are returned as they are.
    """
    if max_size < 3:
        raise InputError(None, f"maximum grid size must be at least 3, got {max_size}")
    ny, nx = hm.shape
    if max(ny, nx) <= max_size:
        return hm
    factor = (max(ny, nx) - 1) / (max_size - 1)  # in grid intervals, so the longer side
    # ends with exactly max_size points
    if not np.isfinite(hm.heights).all():
        raise InputError(hm.source, "fill missing points before resampling")
    new_ny = min(max_size, max(3, int(round((ny - 1) / factor)) + 1))
    new_nx = min(max_size, max(3, int(round((nx - 1) / factor)) + 1))
    sigma = (factor - 1) / 2
    smooth = _gaussian_blur(hm.heights, sigma)
    yi = np.linspace(0, ny - 1, new_ny)
    xi = np.linspace(0, nx - 1, new_nx)
    coords = np.meshgrid(yi, xi, indexing="ij")
    from scipy import ndimage  # here: SciPy's import costs every command's start
    heights = ndimage.map_coordinates(smooth, coords, order=1, mode="nearest")
    valid = ndimage.map_coordinates(hm.valid.astype(np.float32), coords, order=1) > 0.5
    truth = None
    if hm.truth is not None:
        truth = ndimage.map_coordinates(hm.truth.astype(np.float32), coords, order=1) > 0.25
    dx = hm.dx * (nx - 1) / (new_nx - 1)
    dy = hm.dy * (ny - 1) / (new_ny - 1)
    return hm.replace(heights=heights, valid=valid, dx=dx, dy=dy, truth=truth)


def resample_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-cell resampling of a (ny, nx) bool mask to ``shape`` over the same extent."""
    mask = np.asarray(mask, bool)
    ny, nx = mask.shape
    if (ny, nx) == tuple(shape):
        return mask.copy()
    i = np.rint(np.linspace(0, ny - 1, shape[0])).astype(int)
    j = np.rint(np.linspace(0, nx - 1, shape[1])).astype(int)
    return mask[np.ix_(i, j)]


def prepare(hm: HeightMap, level: bool = True, crop_box: tuple[int, int, int, int] | None = None,
            max_size: int | None = 1024) -> HeightMap:
    """The standard chain: crop, fill missing points, level the plane, resample."""
    if crop_box is not None:
        hm = crop(hm, *crop_box)
    hm = fill_missing(hm)
    if level:
        hm = level_plane(hm)
    if max_size is not None:
        hm = resample(hm, max_size)
    return hm

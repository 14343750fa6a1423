"""Planted defects, the ground truth: scratches along random paths, and dents.

``scratches`` grooves of width ``scratch_width`` and depth ``scratch_depth`` with a V or
rounded profile follow random gently curved paths (the depth tapers to zero over the first
and last 10 % of the length); ``dents`` are spherical indentations. A defect removes
material; where defects overlap the deepest one counts. The truth marks the cells where
some defect removes more than ``TRUTH_FRACTION`` of its own nominal depth, i.e. the cells
inside the groove or dent up to that edge threshold.
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import InputError
from .grid import check_positive, check_shape, grid_axes

__all__ = ["TRUTH_FRACTION", "scratch_paths", "plant_scratches", "plant_dents"]

# A cell belongs to a defect where the defect removes more than this fraction of its depth.
TRUTH_FRACTION = 1e-3


def scratch_paths(shape: tuple[int, int], spacing: float = 5e-6, scratches: int = 0,
                  seed=0) -> list[np.ndarray]:
    """Random smooth paths: ``scratches`` gently curved lines of constant curvature.

    Each path has a random midpoint in the central 60 % of the map, a random heading, a
    length of 30 to 70 % of the map's larger side and a curvature of at most 1 / (map
    side), sampled every quarter cell.

    Returns:
        a list of (n, 2) float64 arrays of points (x, y) in metres.
    """
    ny, nx = check_shape(shape)
    spacing = check_positive("spacing", spacing)
    rng = np.random.default_rng(seed)
    lx, ly = (nx - 1) * spacing, (ny - 1) * spacing
    side = max(lx, ly)
    paths = []
    for _ in range(int(scratches)):
        mid = np.array([rng.uniform(0.2, 0.8) * lx, rng.uniform(0.2, 0.8) * ly])
        heading = rng.uniform(0, np.pi)
        length = rng.uniform(0.3, 0.7) * side
        kappa = rng.uniform(-1.0, 1.0) / side
        n = max(2, int(math.ceil(length / (0.25 * spacing))) + 1)
        s = np.linspace(-length / 2, length / 2, n)
        theta = heading + kappa * s
        if abs(kappa) * length < 1e-9:
            pts = mid + s[:, None] * np.array([np.cos(heading), np.sin(heading)])
        else:
            # arc of constant curvature through ``mid`` with tangent ``heading`` there
            pts = mid + np.stack([np.sin(theta) - np.sin(heading),
                                  -np.cos(theta) + np.cos(heading)], axis=1) / kappa
        paths.append(pts)
    return paths


def _distance_to_path(pts: np.ndarray, shape, spacing: float, max_dist: float):
    """Distance (metres) from every cell to the polyline ``pts`` and the arc-length position
    of the nearest point; cells farther than ``max_dist`` get inf."""
    ny, nx = shape
    pad = int(math.ceil(max_dist / spacing)) + 2
    ci = np.round(pts[:, 1] / spacing).astype(np.int64) + pad
    cj = np.round(pts[:, 0] / spacing).astype(np.int64) + pad
    H, W = ny + 2 * pad, nx + 2 * pad
    keep = (ci >= 0) & (ci < H) & (cj >= 0) & (cj < W)
    dist = np.full((ny, nx), np.inf)
    along = np.zeros((ny, nx))
    if not keep.any():
        return dist, along
    label = np.full((H, W), -1, np.int64)
    label[ci[keep], cj[keep]] = np.nonzero(keep)[0]
    from scipy import ndimage  # here: SciPy's import costs every command's start
    edt, (ii, jj) = ndimage.distance_transform_edt(label < 0, return_indices=True)
    edt, ii, jj = (a[pad:pad + ny, pad:pad + nx] for a in (edt, ii, jj))
    near = edt * spacing <= max_dist + 2 * spacing
    if not near.any():
        return dist, along
    k = label[ii[near], jj[near]]
    py, px = np.nonzero(near)
    P = np.stack([px * spacing, py * spacing], axis=1)
    seg_len = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg_len)])
    best = np.full(k.shape, np.inf)
    best_s = np.zeros(k.shape)
    for dk in range(-4, 4):
        a = np.clip(k + dk, 0, len(pts) - 2)
        A, B = pts[a], pts[a + 1]
        AB = B - A
        L2 = np.maximum(np.einsum("ij,ij->i", AB, AB), 1e-300)
        t = np.clip(np.einsum("ij,ij->i", P - A, AB) / L2, 0.0, 1.0)
        d = np.linalg.norm(P - (A + t[:, None] * AB), axis=1)
        better = d < best
        best[better] = d[better]
        best_s[better] = cum[a[better]] + t[better] * seg_len[a[better]]
    d_out = np.where(best <= max_dist, best, np.inf)
    dist[py, px] = d_out
    along[py, px] = best_s
    return dist, along


def plant_scratches(shape: tuple[int, int], spacing: float = 5e-6, scratches: int = 0,
                    scratch_width: float = 30e-6, scratch_depth: float = 2e-6,
                    scratch_profile: str = "v", seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Material removed by ``scratches`` grooves along :func:`scratch_paths`.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        scratches: number of grooves (>= 0).
        scratch_width: groove width at the surface, metres.
        scratch_depth: groove depth, metres (tapering to 0 over each end's 10 %).
        scratch_profile: 'v' (straight flanks) or 'round' (circular arc bottom).
        seed: anything ``numpy.random.default_rng`` accepts.

    Returns:
        ``removal`` (ny, nx) float64 >= 0 in metres (the deepest groove where they cross)
        and ``truth`` (ny, nx) bool: ``removal > TRUTH_FRACTION * scratch_depth``.
    """
    ny, nx = check_shape(shape)
    hw = check_positive("scratch_width", scratch_width) / 2
    D = check_positive("scratch_depth", scratch_depth)
    if scratch_profile not in ("v", "round"):
        raise InputError("scratch_profile", f"must be 'v' or 'round', got {scratch_profile!r}")
    removal = np.zeros((ny, nx))
    for pts in scratch_paths((ny, nx), spacing, scratches, seed):
        dist, s = _distance_to_path(pts, (ny, nx), spacing, hw)
        inside = np.isfinite(dist)
        if not inside.any():
            continue
        length = np.linalg.norm(np.diff(pts, axis=0), axis=1).sum()
        taper = np.clip(np.minimum(s[inside], length - s[inside]) / (0.1 * length), 0.0, 1.0)
        d = dist[inside]
        if scratch_profile == "v":
            # a V tip pressed to depth D * taper: the same flank angle, a narrower groove
            prof = D * taper - d * (D / hw)
        else:
            # a spherical tip of radius rho cutting a groove hw wide and D deep
            rho = (hw * hw + D * D) / (2 * D)
            prof = D * taper - (rho - np.sqrt(np.maximum(rho * rho - d * d, 0.0)))
        prof = np.maximum(prof, 0.0)
        removal[inside] = np.maximum(removal[inside], prof)
    return removal, removal > TRUTH_FRACTION * D


def plant_dents(shape: tuple[int, int], spacing: float = 5e-6, dents: int = 0,
                dent_radius: float = 50e-6, dent_depth: float = 2e-6,
                seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Material removed by ``dents`` spherical indentations at random places.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        dents: number of dents (>= 0).
        dent_radius: radius of each dent's rim, metres.
        dent_depth: depth at the centre, metres.
        seed: anything ``numpy.random.default_rng`` accepts.

    Returns:
        ``removal`` (ny, nx) float64 >= 0 in metres and ``truth`` (ny, nx) bool:
        ``removal > TRUTH_FRACTION * dent_depth``.
    """
    ny, nx = check_shape(shape)
    spacing = check_positive("spacing", spacing)
    a = check_positive("dent_radius", dent_radius)
    D = check_positive("dent_depth", dent_depth)
    rng = np.random.default_rng(seed)
    rho = (a * a + D * D) / (2 * D)
    removal = np.zeros((ny, nx))
    x, y = grid_axes((ny, nx), spacing)
    for _ in range(int(dents)):
        cx, cy = rng.uniform(0.1, 0.9) * x[-1], rng.uniform(0.1, 0.9) * y[-1]
        j0, j1 = max(0, int((cx - a) / spacing)), min(nx, int((cx + a) / spacing) + 2)
        i0, i1 = max(0, int((cy - a) / spacing)), min(ny, int((cy + a) / spacing) + 2)
        d2 = (x[None, j0:j1] - cx) ** 2 + (y[i0:i1, None] - cy) ** 2
        prof = np.maximum(D - (rho - np.sqrt(np.maximum(rho * rho - d2, 0.0))), 0.0)
        win = removal[i0:i1, j0:j1]
        np.maximum(win, prof, out=win)
    return removal, removal > TRUTH_FRACTION * D

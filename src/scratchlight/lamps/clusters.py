"""Initial lamps from the light's brightest clusters.

The optimized light is sparse: a few groups of lit texels on a dark sphere. The texels at
or above ``threshold`` x the brightest are grouped into connected clusters (8-neighbours,
columns wrapping around, each pole row one point); each cluster's power is sum E_t m_t (m_t
the texel's solid angle, ``footprint.texel_masses``). The K most powerful clusters become
the K lamps: centre at the power-weighted mean direction, size from the power-weighted
spread (less the spread the bilinear lookup itself adds), power the cluster's. With fewer
clusters than lamps the cluster with the largest power x spread is split in two along its
longest axis, and so on; texels below the threshold fill any rest. A lamp whose footprint
would exceed ``peak`` is dimmed to it.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .footprint import footprint_peak, texel_masses
from .geometry import Lamp, angles_of, direction, tangent_frame

__all__ = ["texel_directions", "light_clusters", "initial_lamps"]


def texel_directions(shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) world direction of each texel centre (``scene.envmap`` layout)."""
    H, W = shape
    theta = np.pi * np.arange(H) / (H - 1)
    phi_map = 2 * np.pi * (np.arange(W) + 0.5) / W  # map azimuth: from +y towards +x
    alpha = np.pi / 2 - phi_map                     # part azimuth: from +x towards +y
    T, A = np.meshgrid(theta, alpha, indexing="ij")
    return direction(T, A)


def light_clusters(E: np.ndarray, threshold: float = 0.1) -> list[np.ndarray]:
    """Clusters of bright texels of a gray map (H, W): a list of (n, 2) (row, column)
    arrays, the most powerful first."""
    E = np.asarray(E, np.float64)
    H, W = E.shape
    top = float(E.max())
    if top <= 0:
        return []
    lit = E >= threshold * top
    labels, n = ndimage.label(lit, structure=np.ones((3, 3), int))
    parent = list(range(n + 1))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        if a and b:
            parent[find(a)] = find(b)

    for r in range(H):  # wrap-around columns
        for dr in (-1, 0, 1):
            if 0 <= r + dr < H:
                union(labels[r, W - 1], labels[r + dr, 0])
    for row in (0, H - 1):  # each pole row is a single direction
        ids = [v for v in np.unique(labels[row]) if v]
        for a in ids[1:]:
            union(a, ids[0])
    roots = np.array([find(v) for v in range(n + 1)])[labels]
    power = E * texel_masses((H, W))
    out = []
    for root in np.unique(roots[lit]):
        rows, cols = np.nonzero((roots == root) & lit)
        out.append(np.stack([rows, cols], 1))
    out.sort(key=lambda rc: -power[rc[:, 0], rc[:, 1]].sum())
    return out


def _moments(E, cells, dirs, masses):
    """Power, mean direction and tangent-plane covariance (2, 2) of a cluster."""
    p = E[cells[:, 0], cells[:, 1]] * masses[cells[:, 0], cells[:, 1]]
    P = float(p.sum())
    v = dirs[cells[:, 0], cells[:, 1]]
    mean = (p[:, None] * v).sum(0)
    if P <= 0 or np.linalg.norm(mean) < 1e-12:
        mean = v.mean(0)
    mean /= np.linalg.norm(mean)
    theta, alpha = angles_of(mean)
    _, e1, e2 = tangent_frame(float(theta), float(alpha))
    ab = np.stack([v @ e1, v @ e2], 1)
    w = p / P if P > 0 else np.full(len(p), 1 / len(p))
    cov = (w[:, None, None] * ab[:, :, None] * ab[:, None, :]).sum(0)
    return P, float(theta), float(alpha), cov, ab


def _split(E, cells, dirs, masses):
    """Two halves of a cluster, cut across its longest tangent axis."""
    _, _, _, cov, ab = _moments(E, cells, dirs, masses)
    axis = np.linalg.eigh(cov)[1][:, -1]
    s = ab @ axis
    cut = s >= np.median(s)
    if cut.all() or not cut.any():
        cut = s > s.min()
    return cells[cut], cells[~cut]


def initial_lamps(E: np.ndarray, count: int, kind: str = "disc", threshold: float = 0.1,
                  min_diameter: float = math.radians(2.0), max_diameter: float = math.radians(40.0),
                  max_length: float = math.radians(120.0), min_elevation: float = 0.0,
                  peak: float | None = 1.0) -> list[Lamp]:
    """``count`` lamps of ``kind`` from the brightest clusters of the gray map E (H, W)."""
    E = np.asarray(E, np.float64)
    shape = E.shape
    H, W = shape
    dirs, masses = texel_directions(shape), texel_masses(shape)
    clusters = light_clusters(E, threshold)

    def score(c):
        P, _, _, cov, _ = _moments(E, c, dirs, masses)
        return P * (np.trace(cov) + 1e-9) if len(c) > 1 else -1.0

    while 0 < len(clusters) < count:
        k = int(np.argmax([score(c) for c in clusters]))
        if score(clusters[k]) < 0:
            break
        a, b = _split(E, clusters.pop(k), dirs, masses)
        clusters += [a, b]
    taken = np.zeros(shape, bool)
    for c in clusters:
        taken[c[:, 0], c[:, 1]] = True
    # too few lit texels: the brightest of the rest, upper hemisphere first
    order = np.argsort(-(E * masses + (dirs[..., 2] >= 0) * 1e-9).ravel(), kind="stable")
    for flat in order:
        if len(clusters) >= count:
            break
        if not taken.ravel()[flat]:
            clusters.append(np.array([divmod(int(flat), W)]))
    clusters = clusters[:count]
    clusters.sort(key=lambda c: -_moments(E, c, dirs, masses)[0])
    # the spread the bilinear lookup adds (a hat has variance 1/6 texel^2 per axis)
    hat = (np.pi / (H - 1)) ** 2 / 6
    lamps = []
    for c in clusters:
        P, theta, alpha, cov, _ = _moments(E, c, dirs, masses)
        theta = min(theta, np.pi / 2 - min_elevation)
        evals, evecs = np.linalg.eigh(cov)
        hat_u = hat * np.sin(max(theta, 1e-3)) ** 2 * ((H - 1) / (W / 2)) ** 2
        if kind == "disc":
            rho2 = 2 * max(float(np.trace(cov)) - hat - hat_u, 0.0)
            lamp = Lamp("disc", theta, alpha, float(np.clip(2 * np.sqrt(rho2), min_diameter,
                                                            max_diameter)), max(P, 1e-6))
        else:
            width = float(np.clip(np.sqrt(12 * max(evals[0] - hat, 0.0)), min_diameter, max_diameter))
            length = float(np.clip(np.sqrt(12 * max(evals[1] - hat, 0.0)), width, max_length))
            t = evecs[:, 1]  # (a, b) = (sin psi, cos psi)
            lamp = Lamp("bar", theta, alpha, width, max(P, 1e-6), length,
                        float(np.arctan2(t[0], t[1])))
        if peak is not None:
            top = footprint_peak(lamp, shape)
            if top > peak:
                lamp.power *= peak / top
        lamps.append(lamp)
    return lamps

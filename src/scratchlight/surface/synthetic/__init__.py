"""Synthetic machined surfaces with planted defects and their ground-truth mask.

Each surface is built from a kinematic model of the cut, in physical units: heights in
metres (micrometre relief), a square grid of ``size`` x ``size`` points ``spacing`` apart
(default 5 um, so a 512-point map is 2.56 mm wide). Column ``j`` is x (the feed direction),
row ``i`` is y. The surface left by a tool is the lower envelope of the tool's cutting
edge over all its positions (material below the edge stays), so every model below takes a
minimum over tool positions.

``turning``
    A round-nosed tool (nose radius ``tool_radius``) fed by ``feed`` per revolution leaves
    straight feed marks along y; across them the profile is a chain of circular arcs with
    peak-to-valley ``feed**2 / (8 tool_radius)`` (exactly ``r - sqrt(r**2 - feed**2/4)``).
``face-mill``
    A face-milling cutter of radius ``cutter_radius`` with ``teeth`` inserts (corner radius
    ``tool_radius``) moves along +x by ``feed`` per tooth; the spindle is tilted so that only
    the leading edge cuts. Every tooth leaves a circular arc; axial ``runout`` sets the
    teeth at heights ``-runout/2 * cos(2 pi t / teeth)``, so every ``teeth``-th arc differs.
``ball-end``
    A ball-end mill (ball radius ``tool_radius``) moves along x with ``feed`` per tooth and
    steps over by ``stepover`` along y between passes (zig-zag, so feed marks of adjacent
    passes are offset by half a feed). Scallops in both directions; the cross-feed scallop
    height is ``R - sqrt(R**2 - stepover**2/4)``.
``ground``
    Abrasive grains cut fine random grooves along x (a few degrees of scatter): rounded
    cross-section of random width around ``grain_width``, exponentially distributed depth
    around ``grain_depth``, random lengths, the deepest groove wins.

Added to every kind: chatter waviness ``chatter * sin(2 pi x / chatter_wavelength + phase)``
along the feed, and self-affine random roughness (Hurst exponent ``hurst``, rms
``roughness``, flat spectrum below ``rolloff_wavelength``).

Planted defects (the ground truth): ``scratches`` grooves of width ``scratch_width`` and
depth ``scratch_depth`` with a V or rounded profile along random gently curved paths (the
depth tapers to zero over the first and last 10 % of the length), and ``dents`` spherical
indentations. A defect removes material; where defects overlap the deepest one counts.
``truth`` marks the cells where some defect removes more than ``TRUTH_FRACTION`` of its
own nominal depth, i.e. the cells inside the groove or dent up to that edge threshold.

Random draws come from independent streams of ``seed`` (roughness, phases, grains,
defects), so the same seed always gives the same surface, and adding defects does not
change the surface under them.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from ...errors import InputError
from ...heightmap import HeightMap

__all__ = [
    "KINDS", "KIND_DEFAULTS", "TRUTH_FRACTION", "synthesize", "turning_marks",
    "face_mill_marks", "ball_end_marks", "ground_marks", "self_affine_roughness",
    "chatter_waviness", "scratch_paths", "plant_scratches", "plant_dents",
]

KINDS = ("face-mill", "turning", "ball-end", "ground")

# Kind-specific defaults of the cutting parameters (metres, counts).
KIND_DEFAULTS = {
    "turning": {"feed": 100e-6, "tool_radius": 0.8e-3},
    "face-mill": {"feed": 120e-6, "tool_radius": 0.8e-3, "cutter_radius": None, "teeth": 4,
                  "runout": 0.5e-6},
    "ball-end": {"feed": 80e-6, "tool_radius": 3e-3, "stepover": 250e-6},
    "ground": {"grain_width": 12e-6, "grain_depth": 0.25e-6, "grain_density": 150.0},
}

# A cell belongs to a defect where the defect removes more than this fraction of its depth.
TRUTH_FRACTION = 1e-3

_STREAMS = ("roughness", "phase", "grains", "scratches", "dents")


def _grid(shape, spacing):
    ny, nx = shape
    return np.arange(nx) * spacing, np.arange(ny) * spacing


def _nose(s: np.ndarray, radius: float) -> np.ndarray:
    """Height of a circular cutting edge of ``radius`` at lateral distance ``s`` from its
    lowest point (metres); beyond the radius the edge is taken as vertical (height r)."""
    s2 = np.minimum(s * s, radius * radius)
    return radius - np.sqrt(radius * radius - s2)


def _check_positive(name: str, value: float) -> float:
    if value is None or not np.isfinite(value) or value <= 0:
        raise InputError(name, f"must be a positive number, got {value}")
    return float(value)


def _check_shape(shape) -> tuple[int, int]:
    ny, nx = (int(v) for v in shape)
    if ny < 3 or nx < 3:
        raise InputError("shape", f"grid must be at least 3 x 3, got {nx} x {ny}")
    return ny, nx


def turning_marks(shape: tuple[int, int], spacing: float = 5e-6, feed: float = 100e-6,
                  tool_radius: float = 0.8e-3) -> np.ndarray:
    """Feed marks of turning with a round-nosed tool.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        feed: feed per revolution (distance between marks along x), metres.
        tool_radius: nose radius of the tool, metres (>= feed / 2).

    Returns:
        (ny, nx) float64 heights in metres, 0 at the tool tip positions ``x = k * feed``,
        peaks ``tool_radius - sqrt(tool_radius**2 - feed**2 / 4)`` ~ ``feed**2 / (8 r)``
        midway between them. Constant along y.
    """
    ny, nx = _check_shape(shape)
    spacing, feed = _check_positive("spacing", spacing), _check_positive("feed", feed)
    tool_radius = _check_positive("tool_radius", tool_radius)
    if feed > 2 * tool_radius:
        raise InputError("feed", f"feed {feed} m exceeds the tool's nose width "
                                 f"2 r = {2 * tool_radius} m")
    x, _ = _grid((ny, nx), spacing)
    s = x - np.round(x / feed) * feed
    return np.broadcast_to(_nose(s, tool_radius), (ny, nx)).copy()


def face_mill_marks(shape: tuple[int, int], spacing: float = 5e-6, feed: float = 120e-6,
                    tool_radius: float = 0.8e-3, cutter_radius: float | None = None,
                    teeth: int = 4, runout: float = 0.5e-6) -> np.ndarray:
    """Curved feed marks of face milling (leading edge cutting only).

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        feed: feed per tooth along +x, metres.
        tool_radius: corner radius of each insert, metres.
        cutter_radius: radius of the circle the insert corners describe, metres; the map's
            y extent must be below 1.9 times it. None: 5 mm, or the map's y extent if
            that is larger.
        teeth: number of inserts (>= 1).
        runout: axial runout, metres: tooth ``t`` sits ``-runout/2 cos(2 pi t / teeth)``
            higher, so every ``teeth``-th arc is deeper (0 = all teeth alike).

    Returns:
        (ny, nx) float64 heights in metres. The cutter centre moves along the line
        ``y = yc`` below (or, for large maps, inside) the map, so marks are arcs that are
        convex towards +x.
    """
    ny, nx = _check_shape(shape)
    spacing, feed = _check_positive("spacing", spacing), _check_positive("feed", feed)
    tool_radius = _check_positive("tool_radius", tool_radius)
    x, y = _grid((ny, nx), spacing)
    ly = y[-1]
    R = max(5e-3, ly) if cutter_radius is None else _check_positive("cutter_radius", cutter_radius)
    teeth = int(teeth)
    if teeth < 1:
        raise InputError("teeth", f"must be at least 1, got {teeth}")
    if not np.isfinite(runout) or runout < 0:
        raise InputError("runout", f"must be a finite value >= 0, got {runout}")
    # Centre line: 0.3 R below the map's middle, as far as the map stays within 0.95 R.
    offset = min(0.3 * R, 0.95 * R - ly / 2)
    if offset < 0:
        raise InputError("cutter_radius", f"a cutter of radius {R * 1e3:.3g} mm cannot cover a "
                                          f"map {ly * 1e3:.3g} mm tall in one pass")
    yc = ly / 2 - offset
    t_off = -0.5 * runout * np.cos(2 * np.pi * np.arange(teeth) / teeth)
    dy2 = (y - yc)[:, None] ** 2
    X = x[None, :]
    lead = np.sqrt(R * R - dy2)                   # leading-edge arc of the pass at x_k = 0
    k0 = np.round((X - lead) / feed).astype(np.int64)
    # arcs are feed apart along x, feed * cos(phi) apart radially; a deeper tooth's mark
    # reaches sqrt(2 r runout) radially, so look that many arcs to either side
    cos_min = math.sqrt(max(1.0 - float(dy2.max()) / (R * R), 1e-6))
    reach = int(math.ceil(math.sqrt(2 * tool_radius * runout) / (feed * cos_min))) + 1
    z = np.full((ny, nx), np.inf)
    for dk in range(-reach, reach + 1):
        k = k0 + dk
        rho = np.sqrt((X - k * feed) ** 2 + dy2)
        cand = t_off[np.mod(k, teeth)] + _nose(rho - R, tool_radius)
        np.minimum(z, cand, out=z)
    return z


def ball_end_marks(shape: tuple[int, int], spacing: float = 5e-6, feed: float = 80e-6,
                   tool_radius: float = 3e-3, stepover: float = 250e-6) -> np.ndarray:
    """Scallops of ball-end milling: passes along x, ``stepover`` apart along y.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        feed: feed per tooth along x, metres.
        tool_radius: ball radius, metres.
        stepover: distance between passes along y, metres (< 2 tool_radius).

    Returns:
        (ny, nx) float64 heights in metres: the lower envelope of the ball at every tooth
        position; cross-feed scallops ``R - sqrt(R**2 - stepover**2 / 4)`` high, feed
        scallops ``R - sqrt(R**2 - feed**2 / 4)``.
    """
    ny, nx = _check_shape(shape)
    spacing, feed = _check_positive("spacing", spacing), _check_positive("feed", feed)
    R = _check_positive("tool_radius", tool_radius)
    ae = _check_positive("stepover", stepover)
    if ae >= 2 * R or feed >= 2 * R:
        raise InputError("stepover", "stepover and feed must be below the ball diameter")
    x, y = _grid((ny, nx), spacing)
    X, Y = x[None, :], y[:, None]
    p0 = np.round(Y / ae).astype(np.int64)
    z = np.full((ny, nx), np.inf)
    for dp in (-1, 0, 1):
        p = p0 + dp
        shift = np.mod(p, 2) * (feed / 2)      # zig-zag: adjacent passes offset by feed / 2
        dy2 = (Y - p * ae) ** 2
        k0 = np.round((X - shift) / feed)
        for dk in (-1, 0, 1):
            dx = X - ((k0 + dk) * feed + shift)
            np.minimum(z, _nose(np.sqrt(dx * dx + dy2), R), out=z)
    return z


def ground_marks(shape: tuple[int, int], spacing: float = 5e-6, grain_width: float = 12e-6,
                 grain_depth: float = 0.25e-6, grain_density: float = 150.0,
                 scatter_deg: float = 1.0, seed=0) -> np.ndarray:
    """Fine directional grooves of grinding, along x.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        grain_width: mean groove width, metres (each groove: 0.5 to 1.5 times this).
        grain_depth: mean groove depth, metres (exponential, capped at 6 times the mean).
        grain_density: grooves per square millimetre.
        scatter_deg: standard deviation of the groove direction about x, degrees.
        seed: anything ``numpy.random.default_rng`` accepts.

    Returns:
        (ny, nx) float64 heights in metres, <= 0: the plateau is 0, grooves cut below it
        with a parabolic (rounded grain tip) cross-section whose depth rises and falls as
        ``sin(pi t)`` along the groove's length.
    """
    ny, nx = _check_shape(shape)
    spacing = _check_positive("spacing", spacing)
    grain_width = _check_positive("grain_width", grain_width)
    grain_depth = _check_positive("grain_depth", grain_depth)
    grain_density = _check_positive("grain_density", grain_density)
    rng = np.random.default_rng(seed)
    lx, ly = nx * spacing, ny * spacing
    n = rng.poisson(grain_density * lx * ly * 1e6)
    length = rng.uniform(0.2, 1.0, n) * max(lx, ly)
    xc = rng.uniform(-0.2, 1.2, n) * lx
    yc = rng.uniform(0, 1, n) * ly
    slope = np.tan(np.radians(rng.normal(0.0, scatter_deg, n)))
    hw = 0.5 * grain_width * rng.uniform(0.5, 1.5, n)
    depth = np.minimum(rng.exponential(grain_depth, n), 6 * grain_depth)
    removal = np.zeros((ny, nx))
    for a in range(n):
        xa, xb = xc[a] - length[a] / 2, xc[a] + length[a] / 2
        j0, j1 = max(0, int(math.ceil(xa / spacing))), min(nx, int(math.floor(xb / spacing)) + 1)
        if j1 <= j0:
            continue
        xs = np.arange(j0, j1) * spacing
        yline = yc[a] + slope[a] * (xs - xc[a])
        i0 = max(0, int(math.floor((yline.min() - hw[a]) / spacing)))
        i1 = min(ny, int(math.ceil((yline.max() + hw[a]) / spacing)) + 1)
        if i1 <= i0:
            continue
        ys = np.arange(i0, i1) * spacing
        d = (ys[:, None] - yline[None, :]) / hw[a]
        along = np.sin(np.pi * (xs - xa) / (xb - xa))
        prof = depth[a] * along[None, :] * np.clip(1.0 - d * d, 0.0, None)
        win = removal[i0:i1, j0:j1]
        np.maximum(win, prof, out=win)
    return -removal


def self_affine_roughness(shape: tuple[int, int], spacing: float = 5e-6, rms: float = 20e-9,
                          hurst: float = 0.8, rolloff_wavelength: float = 100e-6,
                          seed=0) -> np.ndarray:
    """Gaussian self-affine random roughness made by FFT filtering of white noise.

    The power spectrum is ``C(q) ~ q**(-2 (1 + hurst))`` for wavenumbers above
    ``q_r = 2 pi / rolloff_wavelength`` and flat below; the mean is removed and the result
    scaled to standard deviation ``rms``.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        rms: standard deviation of the heights, metres (0 gives zeros).
        hurst: Hurst exponent, 0 < hurst <= 1.
        rolloff_wavelength: roll-off wavelength, metres.
        seed: anything ``numpy.random.default_rng`` accepts.

    Returns:
        (ny, nx) float64 heights in metres.
    """
    ny, nx = _check_shape(shape)
    spacing = _check_positive("spacing", spacing)
    if not np.isfinite(rms) or rms < 0:
        raise InputError("roughness", f"must be a finite value >= 0, got {rms}")
    if not 0 < hurst <= 1:
        raise InputError("hurst", f"must be in (0, 1], got {hurst}")
    rolloff_wavelength = _check_positive("rolloff_wavelength", rolloff_wavelength)
    if rms == 0:
        return np.zeros((ny, nx))
    rng = np.random.default_rng(seed)
    qy = 2 * np.pi * np.fft.fftfreq(ny, d=spacing)
    qx = 2 * np.pi * np.fft.rfftfreq(nx, d=spacing)
    q = np.hypot(qy[:, None], qx[None, :])
    q = np.maximum(q, 2 * np.pi / rolloff_wavelength)
    amp = q ** (-(1.0 + hurst))
    amp[0, 0] = 0.0
    noise = rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)
    z = np.fft.irfft2(noise * amp, s=(ny, nx))
    z -= z.mean()
    sd = z.std()
    return z * (rms / sd) if sd > 0 else z


def chatter_waviness(shape: tuple[int, int], spacing: float = 5e-6, chatter: float = 0.0,
                     chatter_wavelength: float = 0.5e-3, phase: float = 0.0) -> np.ndarray:
    """Sinusoidal waviness along the feed (x): ``chatter * sin(2 pi x / wavelength + phase)``.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        chatter: amplitude, metres (>= 0).
        chatter_wavelength: wavelength along x, metres.
        phase: phase, radians.

    Returns:
        (ny, nx) float64 heights in metres.
    """
    ny, nx = _check_shape(shape)
    if not np.isfinite(chatter) or chatter < 0:
        raise InputError("chatter", f"must be a finite value >= 0, got {chatter}")
    wl = _check_positive("chatter_wavelength", chatter_wavelength)
    x, _ = _grid((ny, nx), spacing)
    return np.broadcast_to(chatter * np.sin(2 * np.pi * x / wl + phase), (ny, nx)).copy()


def scratch_paths(shape: tuple[int, int], spacing: float = 5e-6, scratches: int = 0,
                  seed=0) -> list[np.ndarray]:
    """Random smooth paths: ``scratches`` gently curved lines of constant curvature.

    Each path has a random midpoint in the central 60 % of the map, a random heading, a
    length of 30 to 70 % of the map's larger side and a curvature of at most 1 / (map
    side), sampled every quarter cell.

    Returns:
        a list of (n, 2) float64 arrays of points (x, y) in metres.
    """
    ny, nx = _check_shape(shape)
    spacing = _check_positive("spacing", spacing)
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
    ny, nx = _check_shape(shape)
    hw = _check_positive("scratch_width", scratch_width) / 2
    D = _check_positive("scratch_depth", scratch_depth)
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
    ny, nx = _check_shape(shape)
    spacing = _check_positive("spacing", spacing)
    a = _check_positive("dent_radius", dent_radius)
    D = _check_positive("dent_depth", dent_depth)
    rng = np.random.default_rng(seed)
    rho = (a * a + D * D) / (2 * D)
    removal = np.zeros((ny, nx))
    x, y = _grid((ny, nx), spacing)
    for _ in range(int(dents)):
        cx, cy = rng.uniform(0.1, 0.9) * x[-1], rng.uniform(0.1, 0.9) * y[-1]
        j0, j1 = max(0, int((cx - a) / spacing)), min(nx, int((cx + a) / spacing) + 2)
        i0, i1 = max(0, int((cy - a) / spacing)), min(ny, int((cy + a) / spacing) + 2)
        d2 = (x[None, j0:j1] - cx) ** 2 + (y[i0:i1, None] - cy) ** 2
        prof = np.maximum(D - (rho - np.sqrt(np.maximum(rho * rho - d2, 0.0))), 0.0)
        win = removal[i0:i1, j0:j1]
        np.maximum(win, prof, out=win)
    return removal, removal > TRUTH_FRACTION * D


def _count(name: str, value) -> int:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise InputError(name, f"must be a whole number >= 0, got {value}")
    return int(value)


def synthesize(kind: str, size: int = 512, seed: int = 0, scratches: int = 0,
               chatter: float = 0.0, *, spacing: float = 5e-6, dents: int = 0,
               roughness: float = 20e-9, hurst: float = 0.8,
               rolloff_wavelength: float = 100e-6, chatter_wavelength: float = 0.5e-3,
               scratch_width: float = 30e-6, scratch_depth: float = 2e-6,
               scratch_profile: str = "v", dent_radius: float = 50e-6,
               dent_depth: float = 2e-6, **cutting) -> HeightMap:
    """A synthetic machined surface with planted defects and their ground-truth mask.

    Args:
        kind: 'face-mill', 'turning', 'ball-end' or 'ground' (see the module docstring).
        size: grid points per side (>= 16); the map is ``size`` x ``size``.
        seed: random seed (int >= 0); the same seed gives the same surface.
        scratches: number of planted scratches (>= 0).
        chatter: chatter waviness amplitude, metres (>= 0).
        spacing: grid spacing dx = dy, metres (default 5 um).
        dents: number of planted spherical dents (>= 0).
        roughness: rms of the self-affine roughness, metres (0 turns it off).
        hurst: Hurst exponent of the roughness, in (0, 1].
        rolloff_wavelength: roughness roll-off wavelength, metres.
        chatter_wavelength: chatter wavelength along the feed (x), metres.
        scratch_width, scratch_depth: groove width and depth, metres.
        scratch_profile: 'v' or 'round'.
        dent_radius, dent_depth: dent rim radius and depth, metres.
        **cutting: kind-specific cutting parameters overriding ``KIND_DEFAULTS[kind]``:
            ``feed``, ``tool_radius`` (turning, face-mill, ball-end), ``cutter_radius``,
            ``teeth``, ``runout`` (face-mill), ``stepover`` (ball-end), ``grain_width``,
            ``grain_depth``, ``grain_density``, ``scatter_deg`` (ground).

    Returns:
        HeightMap with (size, size) float64 ``heights`` in metres, ``dx = dy = spacing``,
        all points valid, and ``truth`` (size, size) bool marking the planted defects
        (all False without defects).

    Raises:
        InputError: naming the parameter, for an unknown kind or a value out of range.
    """
    if kind not in KINDS:
        raise InputError("kind", f"unknown surface kind {kind!r}; choose from {', '.join(KINDS)}")
    if isinstance(size, bool) or int(size) != size or size < 16:
        raise InputError("size", f"must be a whole number >= 16, got {size}")
    size = int(size)
    seed = _count("seed", seed)
    scratches, dents = _count("scratches", scratches), _count("dents", dents)
    spacing = _check_positive("spacing", spacing)
    allowed = set(KIND_DEFAULTS[kind]) | ({"scatter_deg"} if kind == "ground" else set())
    unknown = set(cutting) - allowed
    if unknown:
        raise InputError(sorted(unknown)[0], f"not a parameter of kind {kind!r} "
                                             f"(has: {', '.join(KIND_DEFAULTS[kind])})")
    params = {**KIND_DEFAULTS[kind], **cutting}
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS))))
    shape = (size, size)

    if kind == "turning":
        z = turning_marks(shape, spacing, **params)
    elif kind == "face-mill":
        z = face_mill_marks(shape, spacing, **params)
    elif kind == "ball-end":
        z = ball_end_marks(shape, spacing, **params)
    else:
        z = ground_marks(shape, spacing, seed=streams["grains"], **params)
    phase = np.random.default_rng(streams["phase"]).uniform(0, 2 * np.pi)
    z = z + chatter_waviness(shape, spacing, chatter, chatter_wavelength, phase)
    z = z + self_affine_roughness(shape, spacing, roughness, hurst, rolloff_wavelength,
                                  seed=streams["roughness"])
    z -= z.mean()

    truth = np.zeros(shape, bool)
    removal = np.zeros(shape)
    if scratches:
        r, t = plant_scratches(shape, spacing, scratches, scratch_width, scratch_depth,
                               scratch_profile, seed=streams["scratches"])
        removal, truth = np.maximum(removal, r), truth | t
    if dents:
        r, t = plant_dents(shape, spacing, dents, dent_radius, dent_depth, seed=streams["dents"])
        removal, truth = np.maximum(removal, r), truth | t
    heights = z - removal
    desc = f"synthetic {kind} (seed {seed}, {scratches} scratches, {dents} dents)"
    return HeightMap(heights=heights, dx=spacing, dy=spacing, valid=np.ones(shape, bool),
                     source=desc, truth=truth)

"""Machining marks: kinematic models of the cut, one per surface kind.

The surface left by a tool is the lower envelope of the tool's cutting edge over all its
positions (material below the edge stays), so every model below takes a minimum over tool
positions. Heights are in metres on a grid of ``shape`` points ``spacing`` apart; column
``j`` is x (the feed direction), row ``i`` is y.

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
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import InputError
from .grid import check_positive, check_shape, grid_axes

__all__ = ["turning_marks", "face_mill_marks", "ball_end_marks", "ground_marks", "nose_height"]


def nose_height(s: np.ndarray, radius: float) -> np.ndarray:
    """Height of a circular cutting edge of ``radius`` at lateral distance ``s`` from its
    lowest point (metres); beyond the radius the edge is taken as vertical (height r)."""
    s2 = np.minimum(s * s, radius * radius)
    return radius - np.sqrt(radius * radius - s2)


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
    ny, nx = check_shape(shape)
    spacing, feed = check_positive("spacing", spacing), check_positive("feed", feed)
    tool_radius = check_positive("tool_radius", tool_radius)
    if feed > 2 * tool_radius:
        raise InputError("feed", f"feed {feed} m exceeds the tool's nose width "
                                 f"2 r = {2 * tool_radius} m")
    x, _ = grid_axes((ny, nx), spacing)
    s = x - np.round(x / feed) * feed
    return np.broadcast_to(nose_height(s, tool_radius), (ny, nx)).copy()


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
    ny, nx = check_shape(shape)
    spacing, feed = check_positive("spacing", spacing), check_positive("feed", feed)
    tool_radius = check_positive("tool_radius", tool_radius)
    x, y = grid_axes((ny, nx), spacing)
    ly = y[-1]
    R = max(5e-3, ly) if cutter_radius is None else check_positive("cutter_radius", cutter_radius)
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
        cand = t_off[np.mod(k, teeth)] + nose_height(rho - R, tool_radius)
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
    ny, nx = check_shape(shape)
    spacing, feed = check_positive("spacing", spacing), check_positive("feed", feed)
    R = check_positive("tool_radius", tool_radius)
    ae = check_positive("stepover", stepover)
    if ae >= 2 * R or feed >= 2 * R:
        raise InputError("stepover", "stepover and feed must be below the ball diameter")
    x, y = grid_axes((ny, nx), spacing)
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
            np.minimum(z, nose_height(np.sqrt(dx * dx + dy2), R), out=z)
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
    ny, nx = check_shape(shape)
    spacing = check_positive("spacing", spacing)
    grain_width = check_positive("grain_width", grain_width)
    grain_depth = check_positive("grain_depth", grain_depth)
    grain_density = check_positive("grain_density", grain_density)
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

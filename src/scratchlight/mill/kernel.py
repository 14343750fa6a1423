"""The compiled material-removal pass: a tool swept along straight segments lowers a
height field to the tool's lower envelope (numba).

For a segment from A to B (tip points, metres) and a grid point p, with ``a`` the
projection of p on the segment's ground line, ``e`` its distance from that line and
``w`` the tip's offset along the segment from ``a``, the tool leaves

    h(p) = min over w of  z_A + s (a + w) + profile(sqrt(e^2 + w^2)),   s = dz / L,

a convex function of w (the profile is convex and non-decreasing in the radius). The
envelope takes its minimum in closed form for ball, flat and V tools (w = 0 on a level
segment) and by golden-section search for a sloped bull-nose segment, clipped to the
segment. With tooth marks, the tool cuts only at the tooth passes, ``fz`` apart along the
path (``u_k = (k - phase) fz``), tooth ``k mod teeth`` ``offsets[k mod teeth]`` above the
tip (a face mill's level passes: the ring of insert corners of its leading half, lowest at
``w = -sqrt((R - r)^2 - e^2)``): the best pass lies within ``n_near`` passes of the continuous minimum on either side
(passes ``teeth`` apart have the same offset and the nearer one is lower), so each grid
point looks at 2 ``n_near`` passes. Work per segment is limited to its footprint's
bounding box (the segment widened by ``reach``, the radius the tool cuts at the depth it
reaches below the stock's top), in blocks of TILE x TILE points that run in parallel.
A block takes the segments that touch it in the order of the lowest point each could cut
there (the envelope is a minimum, so order does not change it); once its highest point
lies below what the next segment could cut, the rest are skipped. So a raster pass costs
the band it lowers, not its whole footprint.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from ..compiled import LOCK as _LOCK
from ..compiled import jit as _jit

__all__ = ["sweep_segments", "TILE", "new_tilemax"]

_FLAT, _BALL, _BULL, _V = 0, 1, 2, 3
_GOLDEN_STEPS = 40
_INV_PHI = 0.6180339887498949
TILE = 32
"""Points per side of the blocks whose highest point is kept: a block the tool cannot
reach below that point is skipped (a raster pass touches only the band it lowers)."""
MAX_PAIRS = 4_000_000
"""At most this many (block, segment) pairs per compiled call (their index arrays)."""


@_jit
def _sweep(heights, tilemax, tile, x0, y0, h, geo, box, phase, kind, R, rc, cot, offsets,
           n_near, lead, tiles, starts, order):
    ny, nx = heights.shape
    ntx = tilemax.shape[1]
    teeth = offsets.shape[0]
    rf = R - rc
    R2_rim = R * R * (1.0 + 1e-12)    # the rim, where w = -sqrt(R^2 - e^2) rounds past it
    for t in prange(tiles.shape[0]):
        ti, tj = tiles[t] // ntx, tiles[t] % ntx
        p0, p1 = starts[t], starts[t + 1]
        # first the lowest point each segment could cut in this block ...
        keys = np.empty(p1 - p0)
        for m in range(p1 - p0):
            q = order[p0 + m]
            keys[m] = np.inf
            if box[q, 6] == 0:
                continue
            ra, rb = max(ti * tile, box[q, 0]), min((ti + 1) * tile, box[q, 1] + 1)
            ca, cb = max(tj * tile, box[q, 2]), min((tj + 1) * tile, box[q, 3] + 1)
            if ra >= rb or ca >= cb:
                continue
            ax, ay, L, ux, uy, rr = geo[q, 0], geo[q, 1], geo[q, 3], geo[q, 4], geo[q, 5], geo[q, 7]
            xa, xb = x0 + ca * h, x0 + (cb - 1) * h
            ya, yb = y0 + ra * h, y0 + (rb - 1) * h
            lo_t, hi_t = 0.0, 1.0
            for _ in range(_GOLDEN_STEPS):
                m1 = hi_t - _INV_PHI * (hi_t - lo_t)
                m2 = lo_t + _INV_PHI * (hi_t - lo_t)
                g = 0.0
                for side in range(2):
                    tm = m1 if side == 0 else m2
                    px, py = ax + tm * L * ux, ay + tm * L * uy
                    ex = max(xa - px, 0.0, px - xb)
                    ey = max(ya - py, 0.0, py - yb)
                    g += math.sqrt(ex * ex + ey * ey) * (1.0 if side == 0 else -1.0)
                if g < 0.0:
                    hi_t = m2
                else:
                    lo_t = m1
            tm = 0.5 * (lo_t + hi_t)
            px, py = ax + tm * L * ux, ay + tm * L * uy
            ex = max(xa - px, 0.0, px - xb)
            ey = max(ya - py, 0.0, py - yb)
            dmin = max(math.sqrt(ex * ex + ey * ey) - 1e-8 * L - 1e-12, 0.0)
            if dmin > rr:
                continue
            if kind == _FLAT:
                bound = 0.0
            elif kind == _BALL:
                bound = R - math.sqrt(max(R * R - dmin * dmin, 0.0))
            elif kind == _BULL:
                d = dmin - rf
                bound = 0.0 if d <= 0.0 else rc - math.sqrt(max(rc * rc - d * d, 0.0))
            else:
                bound = dmin * cot
            keys[m] = geo[q, 9] + bound
        # ... then the segments from the deepest: once the block's highest point lies
        # below what the next one could cut, no later one cuts either
        for m in np.argsort(keys):
            if keys[m] >= tilemax[ti, tj]:
                break
            q = order[p0 + m]
            ax, ay, az, L = geo[q, 0], geo[q, 1], geo[q, 2], geo[q, 3]
            ux, uy, s, rr, f = geo[q, 4], geo[q, 5], geo[q, 6], geo[q, 7], geo[q, 8]
            k_first, k_last = box[q, 4], box[q, 5]
            # a face mill's tooth passes on a level move: its leading half's ring of corners
            ring = lead != 0 and f > 0.0 and s == 0.0 and L > 0.0
            ra, rb = max(ti * tile, box[q, 0]), min((ti + 1) * tile, box[q, 1] + 1)
            ca, cb = max(tj * tile, box[q, 2]), min((tj + 1) * tile, box[q, 3] + 1)
            for i in range(ra, rb):
                y = y0 + i * h
                for j in range(ca, cb):
                    px, py = x0 + j * h - ax, y - ay
                    a = px * ux + py * uy
                    e2 = max(px * px + py * py - a * a, 0.0)
                    W2 = rr * rr - e2
                    if W2 < 0.0:
                        continue
                    if s == 0.0 and not ring:
                        # level: the nearest point of the segment (no square root)
                        w = 0.0 if a >= 0.0 else -a
                        if a > L:
                            w = L - a
                        if w * w > W2:
                            continue
                        wlo, whi = w, w
                    else:
                        W = math.sqrt(W2)
                        wlo, whi = max(-W, -a), min(W, L - a)
                        if wlo > whi:
                            continue
                    # the continuous minimum of z(w) + profile(rho(w))
                    if ring:
                        whi = min(whi, 0.0)            # the tool's leading half only
                        if wlo > whi:
                            continue
                        w = -math.sqrt(rf * rf - e2) if e2 < rf * rf else 0.0
                    elif s == 0.0:
                        w = 0.0
                    elif kind == _BALL:
                        w = -s * math.sqrt(max(R * R - e2, 0.0)) / math.sqrt(1.0 + s * s)
                    elif kind == _V and abs(s) < cot:
                        w = -s * math.sqrt(e2) / math.sqrt(cot * cot - s * s)
                    elif kind == _BULL:
                        lo_w, hi_w = wlo, whi
                        for _ in range(_GOLDEN_STEPS):
                            m1 = hi_w - _INV_PHI * (hi_w - lo_w)
                            m2 = lo_w + _INV_PHI * (hi_w - lo_w)
                            g = 0.0
                            for side in range(2):
                                wm = m1 if side == 0 else m2
                                d = math.sqrt(e2 + wm * wm) - rf
                                prof = 0.0 if d <= 0.0 else \
                                    rc - math.sqrt(max(rc * rc - d * d, 0.0))
                                g += (s * wm + prof) * (1.0 if side == 0 else -1.0)
                            if g < 0.0:
                                hi_w = m2
                            else:
                                lo_w = m1
                        w = 0.5 * (lo_w + hi_w)
                    else:                      # flat, or a ramp steeper than the V's flank
                        w = -1e300 if s > 0.0 else 1e300
                    w = min(max(w, wlo), whi)
                    if f <= 0.0:
                        first, last = 0, 0
                    else:
                        k_max = k_last
                        if ring:                       # passes behind the point only
                            k_max = min(k_last, int(math.floor(phase[q] + a / f + 1e-9)))
                        kc = phase[q] + (a + w) / f
                        kc = min(max(kc, float(k_first)), float(k_max))
                        kf = int(math.floor(kc))
                        first = max(k_first, kf - n_near + 1)
                        last = min(k_max, kf + n_near)
                    best = heights[i, j]
                    for k in range(first, last + 1):
                        if f > 0.0:
                            u = (k - phase[q]) * f
                            wk = u - a
                            lift = offsets[k % teeth]
                        else:
                            u = a + w
                            wk = w
                            lift = 0.0
                        rho2 = e2 + wk * wk
                        if rho2 > R2_rim:
                            continue
                        if kind == _FLAT:
                            prof = 0.0
                        elif kind == _BALL:
                            prof = R - math.sqrt(max(R * R - rho2, 0.0))
                        elif kind == _BULL:
                            d = math.sqrt(rho2) - rf
                            if ring and d < -rc:       # inside the ring: lifted by the tilt
                                prof = rc
                            elif d <= 0.0 and not ring:
                                prof = 0.0
                            else:
                                prof = rc - math.sqrt(max(rc * rc - d * d, 0.0))
                        else:
                            prof = math.sqrt(rho2) * cot
                        z = az + s * u + lift + prof
                        if z < best:
                            best = z
                    heights[i, j] = best
            # the block's new highest point (for the next segments' test)
            top = -1e300
            for i in range(ti * tile, min((ti + 1) * tile, ny)):
                for j in range(tj * tile, min((tj + 1) * tile, nx)):
                    top = max(top, heights[i, j])
            tilemax[ti, tj] = top


def _geometry(shape, x0, y0, h, seg, phase, fz, reach):
    """Per segment what the kernel reads: ``geo`` (n, 10) float64 (start x, y, z (a
    plunge's lowest), ground length L, unit direction ux, uy, slope s, reach, fz, lowest
    z) and ``box`` (n, 7) int64 (its footprint's rows i0..i1 and columns j0..j1, first and
    last tooth pass, 1 if it can cut)."""
    ny, nx = shape
    ax, ay, az, bx, by, bz = seg.T
    dx, dy = bx - ax, by - ay
    L = np.sqrt(dx * dx + dy * dy)
    plunge = L < 1e-12
    safe = np.where(plunge, 1.0, L)
    az = np.where(plunge, np.minimum(az, bz), az)
    ux = np.where(plunge, 1.0, dx / safe)
    uy = np.where(plunge, 0.0, dy / safe)
    s = np.where(plunge, 0.0, (bz - az) / safe)
    L = np.where(plunge, 0.0, L)
    zlow = np.minimum(az, az + s * L)
    teeth = fz > 0
    f = np.where(teeth, fz, 1.0)
    k_first = np.where(teeth, np.ceil(phase - 1e-9), 0).astype(np.int64)
    k_last = np.where(teeth, np.floor(phase + L / f + 1e-9), -1).astype(np.int64)
    i0 = np.maximum(0, np.ceil((np.minimum(ay, by) - reach - y0) / h)).astype(np.int64)
    i1 = np.minimum(ny - 1, np.floor((np.maximum(ay, by) + reach - y0) / h)).astype(np.int64)
    j0 = np.maximum(0, np.ceil((np.minimum(ax, bx) - reach - x0) / h)).astype(np.int64)
    j1 = np.minimum(nx - 1, np.floor((np.maximum(ax, bx) + reach - x0) / h)).astype(np.int64)
    valid = (reach > 0) & (~teeth | (k_last >= k_first)) & (i0 <= i1) & (j0 <= j1)
    geo = np.stack([ax, ay, az, L, ux, uy, s, reach, fz, zlow], axis=1)
    box = np.stack([i0, i1, j0, j1, k_first, k_last, valid.astype(np.int64)], axis=1)
    return np.ascontiguousarray(geo), np.ascontiguousarray(box)


def sweep_segments(heights: np.ndarray, tilemax: np.ndarray, x0: float, y0: float,
                   spacing: float, segments: np.ndarray, phase: np.ndarray, fz: np.ndarray,
                   reach: np.ndarray, kind: int, radius: float, corner: float, cot: float,
                   offsets: np.ndarray, lead: bool = False) -> None:
    """Lower ``heights`` in place to the tool's envelope over ``segments``.

    The segments are binned by the TILE x TILE blocks their footprints touch; the blocks
    run in parallel, each taking its segments from the deepest (see the module docstring),
    in batches of at most MAX_PAIRS (block, segment) pairs.

    Args:
        heights: (ny, nx) float64, C-contiguous, metres; point (i, j) lies at
            ``(x0 + j spacing, y0 + i spacing)``.
        tilemax: (ceil(ny / TILE), ceil(nx / TILE)) float64, the highest point of each
            block of TILE x TILE points (kept up to date; start: the stock's top).
        segments: (n, 6) float64 tip start and end points, metres.
        phase: (n,) float64 tooth passes made before each segment's start.
        fz: (n,) float64 feed per tooth, metres (0: the continuous envelope).
        reach: (n,) float64 radius (metres) the tool cuts on each segment (0: skip it).
        kind: tool code (``tools.KIND_CODES``); radius, corner (bull), cot (V).
        offsets: (teeth,) float64 height of each tooth above the tip, metres.
        lead: a face mill (kind bull): on level moves its tooth passes cut with the ring of
            insert corners of the tool's leading half only (a tilted spindle), as
            ``synth``'s face-mill model; the inside of the ring is ``corner`` higher.
    """
    seg = np.ascontiguousarray(segments, dtype=np.float64)
    phase = np.ascontiguousarray(phase, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.float64)
    n_near = offsets.shape[0] if np.ptp(offsets) > 0 else 1
    ntx = tilemax.shape[1]
    geo, box = _geometry(heights.shape, x0, y0, spacing, seg, phase,
                         np.asarray(fz, dtype=np.float64), np.asarray(reach, dtype=np.float64))
    ti0, tj0 = box[:, 0] // TILE, box[:, 2] // TILE
    ntj = box[:, 3] // TILE - tj0 + 1
    count = np.where(box[:, 6] == 1, (box[:, 1] // TILE - ti0 + 1) * ntj, 0)
    ends = np.cumsum(count)
    start = 0
    while start < len(seg):
        done = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done + MAX_PAIRS, side="right")))
        c = count[start:stop]
        total = int(c.sum())
        if total:
            q = np.repeat(np.arange(start, stop), c)
            k = np.arange(total) - np.repeat(np.cumsum(c) - c, c)
            tile_id = (ti0[q] + k // ntj[q]) * ntx + tj0[q] + k % ntj[q]
            perm = np.argsort(tile_id, kind="stable")
            tiles, first = np.unique(tile_id[perm], return_index=True)
            starts = np.append(first, total).astype(np.int64)
            with _LOCK:
                _sweep(heights, tilemax, TILE, float(x0), float(y0), float(spacing), geo, box,
                       phase, int(kind), float(radius), float(corner), float(cot), offsets,
                       int(n_near), int(bool(lead)), tiles.astype(np.int64), starts,
                       q[perm].astype(np.int64))
        start = stop


def new_tilemax(heights: np.ndarray) -> np.ndarray:
    """The highest point of every TILE x TILE block of ``heights`` (float64)."""
    ny, nx = heights.shape
    ty, tx = -(-ny // TILE), -(-nx // TILE)
    pad = np.full((ty * TILE, tx * TILE), -np.inf)
    pad[:ny, :nx] = heights
    return pad.reshape(ty, TILE, tx, TILE).max(axis=(1, 3))

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
reaches below the stock's top), in blocks of TILE x TILE points that run in parallel,
each over the segments that touch it; a block whose highest point lies below the lowest
the tool can reach over it is skipped.
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
MAX_PAIRS = 4_000_000
"""At most this many (block, segment) pairs per compiled call (their index arrays)."""
"""Points per side of the blocks whose highest point is kept: a block the tool cannot
reach below that point is skipped (a raster pass touches only the band it lowers)."""


@_jit
def _sweep(heights, tilemax, tile, x0, y0, h, seg, phase, fz, reach, kind, R, rc, cot,
           offsets, n_near, lead, tiles, starts, order):
    ny, nx = heights.shape
    ntx = tilemax.shape[1]
    teeth = offsets.shape[0]
    rf = R - rc
    R2_rim = R * R * (1.0 + 1e-12)    # the rim, where w = -sqrt(R^2 - e^2) rounds past it
    for t in prange(tiles.shape[0]):
        ti, tj = tiles[t] // ntx, tiles[t] % ntx
        for pair in range(starts[t], starts[t + 1]):
            q = order[pair]
            ax, ay, az = seg[q, 0], seg[q, 1], seg[q, 2]
            bx, by, bz = seg[q, 3], seg[q, 4], seg[q, 5]
            rr = reach[q]
            if rr <= 0.0:
                continue
            dx, dy = bx - ax, by - ay
            L = math.sqrt(dx * dx + dy * dy)
            if L < 1e-12:          # a plunge: the lowest point counts
                az = min(az, bz)
                ux, uy, s, L = 1.0, 0.0, 0.0, 0.0
            else:
                ux, uy, s = dx / L, dy / L, (bz - az) / L
            zlow = min(az, az + s * L)
            f = fz[q]
            # a face mill's tooth passes on a level move: its leading half's ring of corners
            ring = lead != 0 and f > 0.0 and s == 0.0 and L > 0.0
            k_first, k_last = 0, -1
            if f > 0.0:
                k_first = int(math.ceil(phase[q] - 1e-9))
                k_last = int(math.floor(phase[q] + L / f + 1e-9))
                if k_last < k_first:
                    continue       # no tooth passes on this segment
            # this tile's part of the segment's footprint box
            ra = max(ti * tile, int(math.ceil((min(ay, by) - rr - y0) / h)))
            rb = min((ti + 1) * tile, ny, int(math.floor((max(ay, by) + rr - y0) / h)) + 1)
            ca = max(tj * tile, int(math.ceil((min(ax, bx) - rr - x0) / h)))
            cb = min((tj + 1) * tile, nx, int(math.floor((max(ax, bx) + rr - x0) / h)) + 1)
            if ra >= rb or ca >= cb:
                continue
            # the tool's lowest possible point over this box: skip boxes it cannot lower
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
            if zlow + bound >= tilemax[ti, tj]:
                continue
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


def _tile_pairs(shape, x0, y0, h, seg, reach):
    """Per segment, the TILE blocks its footprint box touches: (ti0, ti1, tj0, tj1, count)
    (a point of margin against rounding; the kernel clips exactly)."""
    ny, nx = shape
    lo_x = np.minimum(seg[:, 0], seg[:, 3]) - reach
    hi_x = np.maximum(seg[:, 0], seg[:, 3]) + reach
    lo_y = np.minimum(seg[:, 1], seg[:, 4]) - reach
    hi_y = np.maximum(seg[:, 1], seg[:, 4]) + reach
    j0 = np.clip(np.floor((lo_x - x0) / h) - 1, 0, nx - 1).astype(np.int64)
    j1 = np.clip(np.ceil((hi_x - x0) / h) + 1, -1, nx - 1).astype(np.int64)
    i0 = np.clip(np.floor((lo_y - y0) / h) - 1, 0, ny - 1).astype(np.int64)
    i1 = np.clip(np.ceil((hi_y - y0) / h) + 1, -1, ny - 1).astype(np.int64)
    ok = (reach > 0) & (hi_x >= x0 - h) & (lo_x <= x0 + nx * h) & (hi_y >= y0 - h) & \
        (lo_y <= y0 + ny * h) & (j1 >= j0) & (i1 >= i0)
    ti0, ti1, tj0, tj1 = i0 // TILE, i1 // TILE, j0 // TILE, j1 // TILE
    count = np.where(ok, (ti1 - ti0 + 1) * (tj1 - tj0 + 1), 0)
    return ti0, tj0, tj1 - tj0 + 1, count


def sweep_segments(heights: np.ndarray, tilemax: np.ndarray, x0: float, y0: float,
                   spacing: float, segments: np.ndarray, phase: np.ndarray, fz: np.ndarray,
                   reach: np.ndarray, kind: int, radius: float, corner: float, cot: float,
                   offsets: np.ndarray, lead: bool = False) -> None:
    """Lower ``heights`` in place to the tool's envelope over ``segments``.

    The segments are binned by the TILE x TILE blocks their footprints touch; the blocks
    run in parallel, each taking its segments in turn (the envelope is a minimum, so the
    order does not matter), in batches of at most MAX_PAIRS (block, segment) pairs.

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
    fz = np.ascontiguousarray(fz, dtype=np.float64)
    reach = np.ascontiguousarray(reach, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.float64)
    n_near = offsets.shape[0] if np.ptp(offsets) > 0 else 1
    ntx = tilemax.shape[1]
    ti0, tj0, ntj, count = _tile_pairs(heights.shape, x0, y0, spacing, seg, reach)
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
                _sweep(heights, tilemax, TILE, float(x0), float(y0), float(spacing), seg,
                       phase, fz, reach, int(kind), float(radius), float(corner), float(cot),
                       offsets, int(n_near), int(bool(lead)), tiles.astype(np.int64), starts,
                       q[perm].astype(np.int64))
        start = stop


def new_tilemax(heights: np.ndarray) -> np.ndarray:
    """The highest point of every TILE x TILE block of ``heights`` (float64)."""
    ny, nx = heights.shape
    ty, tx = -(-ny // TILE), -(-nx // TILE)
    pad = np.full((ty * TILE, tx * TILE), -np.inf)
    pad[:ny, :nx] = heights
    return pad.reshape(ty, TILE, tx, TILE).max(axis=(1, 3))

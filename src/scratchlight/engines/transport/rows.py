"""Summing traced paths into the rows of T (numba): the last step of ``build``.

A chunk of the build traces ``spp`` paths for each of its pixels, the paths of a pixel
next to each other. An escaping path adds its RGB throughput times the four bilinear weights
of its envmap lookup to four texels of its pixel's row. ``paths_to_rows`` sums them: per
pixel, the (at most 4 ``spp``) entries go into a dense accumulator of all texels, which the
pixel's touched texels are then read out of (in increasing texel order) and cleared, so
the work is proportional to the entries, not to the texels. Pixels are split over threads,
each with its own accumulator; sums are float64 and in path order, so a rebuild is exact
to the bit for any number of threads.

Why not Dr.Jit's atomic adds into a dense (pixels x texels) block (the previous build): the
block's election of the touched cells, their read-out, zeroing and sort took ~3x the path
tracing itself (measured on bullet-land-sample.x3p at 512^2, 16 spp: 1.2 s of the 1.6 s of
one matrix), and the block needed 268 MB. Here the sum takes ~0.1 s and no block.
"""
from __future__ import annotations

import numpy as np
from numba import prange

from ...compiled import LOCK as _LOCK
from ...compiled import jit as _jit
from ...compiled import threads

__all__ = ["paths_to_rows"]


@_jit
def _rows(spp, escaped, thr, t00, di, dj, fu, fv, n_texels, parts, offsets, counts,
          texels, values):  # pragma: no cover - compiled
    # One pass counts (offsets.size == 0), the other writes at offsets. Part q owns the
    # pixels [q n / parts, (q + 1) n / parts).
    n = escaped.size // spp
    write = offsets.size > 0
    for q in prange(parts):
        acc = np.zeros((n_texels, 3), np.float64)
        seen = np.zeros(n_texels, np.bool_)
        touched = np.empty(4 * spp, np.int64)
        for p in range(q * n // parts, (q + 1) * n // parts):
            m = 0
            for s in range(p * spp, (p + 1) * spp):
                if not escaped[s]:
                    continue
                u, v = np.float64(fu[s]), np.float64(fv[s])
                r0, r1, r2 = np.float64(thr[0, s]), np.float64(thr[1, s]), np.float64(thr[2, s])
                for k in range(4):
                    t = np.int64(t00[s])
                    w = 1.0
                    if k & 1:
                        t += np.int64(dj[s])
                        w *= u
                    else:
                        w *= 1.0 - u
                    if k >= 2:
                        t += np.int64(di[s])
                        w *= v
                    else:
                        w *= 1.0 - v
                    if not seen[t]:
                        seen[t] = True
                        # insertion keeps touched[:m] increasing (m <= 4 spp, mostly < 30)
                        i = m
                        while i > 0 and touched[i - 1] > t:
                            touched[i] = touched[i - 1]
                            i -= 1
                        touched[i] = t
                        m += 1
                    acc[t, 0] += r0 * w
                    acc[t, 1] += r1 * w
                    acc[t, 2] += r2 * w
            c = 0
            o = offsets[p] if write else 0
            for i in range(m):
                t = touched[i]
                if acc[t, 0] + acc[t, 1] + acc[t, 2] > 0.0:  # weights are >= 0
                    if write:
                        texels[o + c] = t
                        values[0, o + c] = acc[t, 0]
                        values[1, o + c] = acc[t, 1]
                        values[2, o + c] = acc[t, 2]
                    c += 1
                acc[t, 0] = acc[t, 1] = acc[t, 2] = 0.0
                seen[t] = False
            if not write:
                counts[p] = c


def paths_to_rows(escaped: np.ndarray, thr: np.ndarray, t00: np.ndarray, di: np.ndarray,
                  dj: np.ndarray, fu: np.ndarray, fv: np.ndarray, spp: int, n_texels: int,
                  count_only: bool = False):
    """The rows of T for the pixels of a chunk of traced paths.

    Args:
        escaped: (n,) bool, paths that left the scene (only they contribute); n = pixels *
            ``spp``, the ``spp`` paths of a pixel consecutive.
        thr: (3, n) float32 RGB throughput of each path, already divided by ``spp``.
        t00: (n,) uint32 texel (row-major, i * W + j) of the lookup's top-left corner.
        di, dj: (n,) int32 offsets from t00 to the lower and the right corner (texels).
        fu, fv: (n,) float32 bilinear fractions: the corners get (1-fu)(1-fv), fu(1-fv),
            (1-fu)fv and fu fv.
        spp: paths per pixel; n_texels: texels of the map (H * W).
        count_only: return only the counts (the memory estimate's pilot).

    Returns:
        counts (pixels,) int64: the non-zeros of each row; unless ``count_only``, also
        texels (nnz,) int32 increasing within each row and values (3, nnz) float32.
    """
    escaped = np.ascontiguousarray(escaped, dtype=np.bool_)
    n = escaped.size // int(spp)
    if escaped.size != n * int(spp):
        raise ValueError(f"{escaped.size} paths are not whole pixels of {spp} paths")
    args = (int(spp), escaped, np.ascontiguousarray(thr, np.float32).reshape(3, -1),
            np.ascontiguousarray(t00, np.uint32), np.ascontiguousarray(di, np.int32),
            np.ascontiguousarray(dj, np.int32), np.ascontiguousarray(fu, np.float32),
            np.ascontiguousarray(fv, np.float32), int(n_texels))
    parts = max(1, min(4 * threads(), n))  # a few parts per thread balance uneven rows
    counts = np.zeros(n, np.int64)
    none_i, none_f = np.zeros(0, np.int32), np.zeros((3, 0), np.float32)
    with _LOCK:
        _rows(*args, parts, np.zeros(0, np.int64), counts, none_i, none_f)
    if count_only:
        return counts
    offsets = np.zeros(n, np.int64)
    np.cumsum(counts[:-1], out=offsets[1:])
    nnz = int(counts.sum())
    texels = np.empty(nnz, np.int32)
    values = np.empty((3, nnz), np.float32)
    if nnz:
        with _LOCK:
            _rows(*args, parts, offsets, counts, texels, values)
    return counts, texels, values

"""Threaded sparse products of a row-compressed transport matrix (numba).

T (h*w pixel rows x H*W texel columns, three RGB weights per non-zero) is stored
row-compressed (``matrix``). Then

- T E is a gather from the tiny map E (25 x 50 texels: 5 KB, in L1 cache) with one
  sequential write per pixel, the three channels fused so each index is read once, rows
  split over threads without atomics; the two halves of a decorrelated engine are fused
  into one pass writing their mean;
- T^T G is a scatter into a tiny (H*W, 3) float64 buffer per part of the rows, summed at
  the end.

Both deal their rows to the threads in chunks, ``CHUNKS_PER_THREAD`` per thread, which a
thread takes when it has finished its last (numba's ``parallel_chunksize``; TBB's work
stealing), not in one equal share per thread. With equal shares a product waits for its
slowest thread: when another process runs on one of the 2 cores, the thread that shares
that core gets about half of it, and T E took 7.5 ms instead of 3.9 ms. With chunks the
thread on the free core can take the chunks the slowed one has not reached. Measured
(``benchmarks/relight.py --only-load``, benchmarks/README.md): with a busy process pinned
to one core both schedules take the same time (~9 ms, about a single thread's), so that
is not what the busy core costs; idle, with T warm in the cache, chunks took 2.9 ms
against 3.3 ms. The sums of a row are the same either way (T E to the bit; T^T G's parts
are added in another grouping).

Why numba (0.68.1 with llvmlite 0.50.0; NumPy < 2.6, Python >= 3.10): a well-kept, widely
used JIT whose wheels bring their own LLVM (no compiler on the machine), with parallel loops
(``prange``) on its threading layer (TBB, OpenMP or its own workqueue) that honour
``NUMBA_NUM_THREADS``, kernels that release the GIL, and a disk cache of compiled kernels.
SciPy's products are single-threaded, one channel per product (reading the indices three
times), and its T E on column-compressed T is a scatter. Dr.Jit (already a dependency; not
measured) runs one pixel per SIMD lane: its loop over a row would gather across lanes from
addresses a row apart instead of streaming T, and the alternative, a scatter-add over every
non-zero, needs a row index per non-zero (more bytes) and atomics. Measured on
milled-face.sur: ``benchmarks/relight.py``.

Compiled kernels are cached on disk (``scratchlight.compiled``). On the 2-core reference machine the first product in a process
imports numba (~1.4 s); with an empty cache each kernel and argument types then compiles in
1-2.5 s, from the cache the first loads in 0.5 s, the others in 0.01 s. ``warm_up`` pays
this when an engine loads or builds its matrices (``cache.load_or_build_transport``), not at
the first relight.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ...compiled import LOCK as _LOCK
from ...compiled import jit as _jit
from ...compiled import numba_cache_dir, threads

__all__ = ["mean_times", "transpose_times", "add_scaled_noise", "warm_up", "numba_cache_dir",
           "threads", "CHUNKS_PER_THREAD", "row_chunk"]

CHUNKS_PER_THREAD = 8
"""Chunks of rows per thread of a product, dealt as the threads ask for them (module
docstring); 0 deals one equal share per thread (numba's default), as before."""
_MIN_CHUNK_ROWS = 1024  # below this a chunk's dispatch (~µs) would cost more than it balances


def row_chunk(rows: int) -> int:
    """Rows per chunk for a product over ``rows`` rows (0: one equal share per thread)."""
    if CHUNKS_PER_THREAD <= 0:
        return 0
    return max(_MIN_CHUNK_ROWS, -(-int(rows) // (threads() * CHUNKS_PER_THREAD)))


# The kernels index with unsigned integers: numba wraps negative signed indices, and
# those checks cost ~20 % of T E. float32 sums, as SciPy's float32 products.

@_jit
def _gray(indptr, indices, data, e, out):  # pragma: no cover - compiled
    d0, d1, d2 = data[0], data[1], data[2]
    for r in prange(indptr.size - 1):
        a0 = a1 = a2 = np.float32(0.0)
        for k in range(np.uint64(indptr[r]), np.uint64(indptr[r + 1])):
            v = e[indices[k]]
            a0 += d0[k] * v
            a1 += d1[k] * v
            a2 += d2[k] * v
        p = np.uint64(r)
        out[p, 0], out[p, 1], out[p, 2] = a0, a1, a2


@_jit
def _rgb(indptr, indices, data, e, out):  # pragma: no cover - compiled
    d0, d1, d2 = data[0], data[1], data[2]
    for r in prange(indptr.size - 1):
        a0 = a1 = a2 = np.float32(0.0)
        for k in range(np.uint64(indptr[r]), np.uint64(indptr[r + 1])):
            t = np.uint64(indices[k])
            a0 += d0[k] * e[t, 0]
            a1 += d1[k] * e[t, 1]
            a2 += d2[k] * e[t, 2]
        p = np.uint64(r)
        out[p, 0], out[p, 1], out[p, 2] = a0, a1, a2


@_jit
def _gray2(ip_a, ix_a, d_a, ip_b, ix_b, d_b, e, out):  # pragma: no cover - compiled
    half = np.float32(0.5)
    for r in prange(ip_a.size - 1):
        a0 = a1 = a2 = np.float32(0.0)
        for k in range(np.uint64(ip_a[r]), np.uint64(ip_a[r + 1])):
            v = e[ix_a[k]]
            a0 += d_a[0, k] * v
            a1 += d_a[1, k] * v
            a2 += d_a[2, k] * v
        b0 = b1 = b2 = np.float32(0.0)
        for k in range(np.uint64(ip_b[r]), np.uint64(ip_b[r + 1])):
            v = e[ix_b[k]]
            b0 += d_b[0, k] * v
            b1 += d_b[1, k] * v
            b2 += d_b[2, k] * v
        p = np.uint64(r)
        out[p, 0], out[p, 1], out[p, 2] = half * (a0 + b0), half * (a1 + b1), half * (a2 + b2)


@_jit
def _rgb2(ip_a, ix_a, d_a, ip_b, ix_b, d_b, e, out):  # pragma: no cover - compiled
    half = np.float32(0.5)
    for r in prange(ip_a.size - 1):
        a0 = a1 = a2 = np.float32(0.0)
        for k in range(np.uint64(ip_a[r]), np.uint64(ip_a[r + 1])):
            t = np.uint64(ix_a[k])
            a0 += d_a[0, k] * e[t, 0]
            a1 += d_a[1, k] * e[t, 1]
            a2 += d_a[2, k] * e[t, 2]
        b0 = b1 = b2 = np.float32(0.0)
        for k in range(np.uint64(ip_b[r]), np.uint64(ip_b[r + 1])):
            t = np.uint64(ix_b[k])
            b0 += d_b[0, k] * e[t, 0]
            b1 += d_b[1, k] * e[t, 1]
            b2 += d_b[2, k] * e[t, 2]
        p = np.uint64(r)
        out[p, 0], out[p, 1], out[p, 2] = half * (a0 + b0), half * (a1 + b1), half * (a2 + b2)


@_jit
def _transpose(indptr, indices, data, g, acc):  # pragma: no cover - compiled
    # acc (parts, H*W, 3) float64, zeroed: part q owns the rows [q n / parts, (q+1) n / parts)
    n = indptr.size - 1
    parts = acc.shape[0]
    for q in prange(parts):
        buf = acc[q]
        for r in range(q * n // parts, (q + 1) * n // parts):
            p = np.uint64(r)
            g0, g1, g2 = np.float64(g[p, 0]), np.float64(g[p, 1]), np.float64(g[p, 2])
            for k in range(np.uint64(indptr[r]), np.uint64(indptr[r + 1])):
                t = np.uint64(indices[k])
                buf[t, 0] += data[0, k] * g0
                buf[t, 1] += data[1, k] * g1
                buf[t, 2] += data[2, k] * g2


def mean_times(mats, e: np.ndarray) -> np.ndarray:
    """(1/K) sum_k T_k e for K = 1 or 2 row-compressed matrices on the same pixels and texels.

    Rows are dealt to the threads in chunks (``row_chunk``).
    ``mats``: (indptr, indices, data) per matrix: indptr (n + 1,) int32 or int64, indices
    (nnz,) uint16 or int32 texel of each non-zero, data (3, nnz) float32, all C-contiguous
    and checked (``TransportMatrix``: an index out of range would read outside e).
    ``e``: (H*W,) float32 gray map (drives R, G and B) or (H*W, 3) float32 RGB map.
    Returns (n, 3) float32.
    """
    if len(mats) not in (1, 2):
        raise ValueError(f"one or two matrices, got {len(mats)}")
    n = mats[0][0].size - 1
    out = np.empty((n, 3), np.float32)
    e = np.ascontiguousarray(e, dtype=np.float32)
    if e.ndim == 2 and e.shape[1] == 1:
        e = e[:, 0]
    with _LOCK, numba.parallel_chunksize(row_chunk(n)):
        if len(mats) == 1:
            (_gray if e.ndim == 1 else _rgb)(*mats[0], e, out)
        else:
            (_gray2 if e.ndim == 1 else _rgb2)(*mats[0], *mats[1], e, out)
    return out


def transpose_times(indptr: np.ndarray, indices: np.ndarray, data: np.ndarray,
                    g: np.ndarray, texels: int) -> np.ndarray:
    """T^T g per channel: (texels, 3) float64 for g (n, 3) float32 or float64 (arrays as in
    ``mean_times``). Sums in float64, one (texels, 3) buffer per chunk of rows."""
    if g.dtype not in (np.float32, np.float64):
        g = g.astype(np.float64)
    g = np.ascontiguousarray(g)
    rows = indptr.size - 1
    chunk = row_chunk(rows)
    # a part per chunk of rows, each with its own buffer, the parts dealt one at a time; at
    # most 16 MB of buffers (a large map has fewer, longer parts)
    parts = threads() if chunk == 0 else max(threads(), min(-(-rows // chunk),
                                                             (16 << 20) // (24 * max(1, texels))))
    parts = max(1, min(parts, rows))
    acc = np.zeros((parts, texels, 3), np.float64)
    with _LOCK, numba.parallel_chunksize(0 if chunk == 0 else 1):
        _transpose(indptr, indices, data, g, acc)
    return acc.sum(axis=0)


# ---- noise of the primal image (``noise.NoiseModel.perturb``) ----------------------------
# A counter-based generator: pixel p's normal is a function of (seed, p) alone, so the image
# is the same for any number of threads. splitmix64 (Steele, Lea & Flood 2014), output
# number seed * 2^32 + p, gives 64 well-mixed bits: 32 for u1 in (0, 1] and 32 for u2 in [0, 1),
# and Box-Muller turns them into one standard normal.
_GOLDEN, _MIX1, _MIX2 = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9),
                         np.uint64(0x94D049BB133111EB))
_S30, _S27, _S31, _S32 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_INV32 = 1.0 / 4294967296.0


@_jit
def _noisy(image, gain, floor, key, out):  # pragma: no cover - compiled
    # out = image + (gain * image + floor) * z, one z per pixel for its three channels
    h, w = image.shape[0], image.shape[1]
    for i in prange(h):
        for j in range(w):
            z = (np.uint64(i * w + j) + key) * _GOLDEN  # splitmix64's state at that count
            z = (z ^ (z >> _S30)) * _MIX1
            z = (z ^ (z >> _S27)) * _MIX2
            z = z ^ (z >> _S31)
            u1 = np.float32((np.float64(z >> _S32) + 1.0) * _INV32)  # (0, 1]
            u2 = np.float32(np.float64(z & _LOW32) * _INV32)  # [0, 1)
            n = np.sqrt(np.float32(-2.0) * np.log(u1)) * np.cos(np.float32(2 * np.pi) * u2)
            for c in range(3):
                v = image[i, j, c]
                out[i, j, c] = v + (gain[i, j, c] * v + floor[i, j, c]) * n


def add_scaled_noise(image: np.ndarray, gain: np.ndarray, floor: np.ndarray,
                     seed: int) -> np.ndarray:
    """image + (gain * image + floor) * z: (h, w, 3) float32 arrays in, a new one out; z a
    standard normal per pixel (the same for its three channels) drawn from ``seed`` and
    the pixel's index alone (so it does not depend on the number of threads)."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    out = np.empty_like(image)
    key = np.uint64((int(seed) % 2 ** 31) << 32)
    with _LOCK:
        _noisy(image, np.ascontiguousarray(gain, np.float32),
               np.ascontiguousarray(floor, np.float32), key, out)
    return out


_WARM: set = set()


def warm_up(indptr_dtype, indices_dtype) -> float:
    """Compile, or load from the disk cache, the kernels an engine uses for matrices with
    these index types (gray T E, the fused halves, T^T G of float64), once per process, so
    that the first relight is as fast as the others. Returns the seconds it took (0 when
    already done). RGB maps compile their kernels on first use."""
    import time

    key = (np.dtype(indptr_dtype), np.dtype(indices_dtype))
    if key in _WARM:
        return 0.0
    t0 = time.perf_counter()
    indptr = np.array([0, 1, 1], key[0])  # two pixel rows, one non-zero
    arrays = (indptr, np.zeros(1, key[1]), np.ones((3, 1), np.float32))
    e = np.ones(2, np.float32)
    mean_times([arrays], e)
    mean_times([arrays, arrays], e)
    transpose_times(*arrays, np.ones((2, 3)), 2)
    one = np.ones((1, 1, 3), np.float32)
    add_scaled_noise(one, one, one, 0)
    _WARM.add(key)
    return time.perf_counter() - t0

"""The image-space passes of the channel-level search (numba), one read of each image.

The scratch objective of a weighted sum of channel images needs, per evaluation, the
masked L1 gradient sums of the combined images and the weight images whose products with
the channel stack are the gradients (``channels`` module docstring). The sums go by
*tiles* of the mask's bounding box: :class:`Tiles` gives each box row its tile row and
each tile column its pixel columns. Each pixel's own forward differences (down and right,
weighted by its mask value) belong to its tile, as in ``objective_kernels``.

The images here are the box's rows plus the row below it (K, rows + 1, w), and the mask
(rows, w) is zero in the image's last column, so every difference a pixel of the box owns
exists: the inner loops need no bounds tests. Rows are split over threads and the per-row
sums added in row order, so the results do not depend on the number of threads.
"""
from __future__ import annotations

import contextlib
import ctypes
import dataclasses

import numpy as np
from numba import prange

from ..compiled import LOCK, jit

__all__ = ["Tiles", "region_sums", "region_weights", "blas_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "openblas_get_num_threads")


def _openblas_libraries() -> list:
    """(get, set) thread-count functions of every OpenBLAS loaded in this process (NumPy's
    and SciPy's), found in /proc/self/maps; empty where that is not available."""
    try:
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()
                            and line.split()[-1].startswith("/")})
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        get = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
        put = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
        if get is not None and put is not None:
            get.restype = ctypes.c_int
            put.argtypes = [ctypes.c_int]
            found.append((get, put))
    return found


@contextlib.contextmanager
def blas_threads(n: int = 1):
    """OpenBLAS limited to ``n`` threads inside the block (restored after). The stack
    products are memory-bound (one thread reads as fast as two), and OpenBLAS's waiting
    threads compete with the compiled passes' threads: at 256 x 256 pixels a search ran
    3 x faster with one BLAS thread. Does nothing where OpenBLAS cannot be found."""
    libs = _openblas_libraries()
    before = [get() for get, _ in libs]
    for _, put in libs:
        put(n)
    try:
        yield
    finally:
        for (_, put), k in zip(libs, before):
            put(k)


@dataclasses.dataclass(frozen=True)
class Tiles:
    """A grid of tiles over the columns c0 .. c0 + width of ``rows`` box rows:
    ``row_tile`` (rows,) int64, the tile row of each box row; ``starts``, ``ends``
    (columns,) int64, each tile column's pixel columns."""

    row_tile: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def grid(cls, rows: int, c0: int, width: int, tile_rows: int, tile_cols: int) -> "Tiles":
        """``tile_rows`` x ``tile_cols`` tiles of (nearly) equal size."""
        row_tile = (np.arange(rows, dtype=np.int64) * tile_rows) // rows
        edges = c0 + (np.arange(tile_cols + 1, dtype=np.int64) * width + tile_cols - 1) // tile_cols
        return cls(row_tile, edges[:-1].copy(), edges[1:].copy())

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.row_tile[-1]) + 1, len(self.starts)


@jit
def _region_sums(Y, M, row_tile, starts, ends, out):  # pragma: no cover - compiled
    K, rows = Y.shape[0], M.shape[0]
    for q in prange(K * rows):
        k, i = q // rows, q % rows
        for b in range(len(starts)):
            s = 0.0
            for j in range(starts[b], ends[b]):
                y = Y[k, i, j]
                s += M[i, j] * (abs(Y[k, i + 1, j] - y) + abs(Y[k, i, j + 1] - y))
            out[k, i, b] = s


def region_sums(Y: np.ndarray, M: np.ndarray, tiles: Tiles) -> np.ndarray:
    """Per-image, per-tile masked L1 gradient sums S[k, r] of images Y (K, rows + 1, w)
    float32/64 with mask weights M (rows, w) float32 (zero in the last column) ->
    (K, tile_rows * tile_cols) float64, tile r = tile_row * tile_cols + tile_col."""
    K, rows = Y.shape[0], M.shape[0]    # Y may be a view of the stack's rows: no copy
    tr, tc = tiles.shape
    per_row = np.empty((K, rows, tc), np.float64)
    with LOCK:
        _region_sums(Y, M, tiles.row_tile, tiles.starts, tiles.ends, per_row)
    out = np.zeros((K, tr, tc))
    np.add.at(out, (slice(None), tiles.row_tile), per_row)   # rows in order, per tile row
    return out.reshape(K, tr * tc)


@jit
def _region_weights(Y, M, row_tile, starts, ends, coef, W, down):  # pragma: no cover - compiled
    K, rows = Y.shape[0], M.shape[0]
    for q in prange(K * rows):
        k, i = q // rows, q % rows
        a = row_tile[i]
        for b in range(len(starts)):
            c = coef[k, a, b]
            for j in range(starts[b], ends[b]):
                y = Y[k, i, j]
                d1 = Y[k, i + 1, j] - y
                d2 = Y[k, i, j + 1] - y
                cm = c * M[i, j]
                s1 = cm * ((d1 > 0) - (d1 < 0))
                s2 = cm * ((d2 > 0) - (d2 < 0))
                W[k, i, j] -= s1 + s2
                W[k, i, j + 1] += s2      # the right neighbour: the same row, this thread
                down[k, i + 1, j] = s1    # the pixel below: its own array, no other writer


def region_weights(Y: np.ndarray, M: np.ndarray, tiles: Tiles, coef: np.ndarray,
                   dtype=np.float32) -> np.ndarray:
    """The weight images W_k = sum_r coef[k, r] dS[k, r]/dY_k of images Y (K, rows + 1, w)
    (``region_sums``): the derivative of sum_r coef[k, r] S[k, r] with respect to each
    pixel, (K, rows + 1, w) in ``dtype``."""
    Y = np.ascontiguousarray(Y)
    W = np.zeros(Y.shape, dtype)
    down = np.zeros(Y.shape, dtype)
    coef = np.ascontiguousarray(np.asarray(coef, np.float64).reshape((len(Y),) + tiles.shape))
    with LOCK:
        _region_weights(Y, M, tiles.row_tile, tiles.starts, tiles.ends, coef, W, down)
    W += down
    return W

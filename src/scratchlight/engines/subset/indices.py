"""Flat pixel indices of one or several views, and blocks of pixels.

Index layout (the one of Mitsuba's ``RayDataLoader``): the pixels of all views form one
index set, ``index = view * h * w + row * w + column`` for V views of h x w pixels. The
same index may appear several times in one batch; every occurrence is an independent
estimate.

Blocks: for a cheap lower-resolution pass the image is cut into ``factor`` x ``factor``
blocks (the last row and column of blocks may be smaller); one uniformly drawn pixel of a
block stands for the whole block.
"""
from __future__ import annotations

import numpy as np

__all__ = ["flat_index", "unflat_index", "image_blocks", "draw_block_pixels",
           "spread_blocks"]


def flat_index(view: np.ndarray, row: np.ndarray, col: np.ndarray, h: int, w: int) -> np.ndarray:
    """Flat pixel index (int64) of pixel (row, col) of ``view`` in V views of h x w pixels."""
    return (np.asarray(view, np.int64) * h + np.asarray(row, np.int64)) * w + np.asarray(col, np.int64)


def unflat_index(index: np.ndarray, h: int, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(view, row, col) int64 arrays of flat pixel indices."""
    index = np.asarray(index, np.int64)
    return index // (h * w), (index // w) % h, index % w


def image_blocks(V: int, h: int, w: int, factor: int) -> dict[str, np.ndarray]:
    """The ``factor`` x ``factor`` blocks of V views of h x w pixels, in flat-index order
    (view, block row, block column).

    Returns a dict of (B,) int64 arrays, B = V * ceil(h / factor) * ceil(w / factor):
    ``view``, ``row`` and ``col`` (the block's position in blocks) and ``rows`` and
    ``cols`` (how many pixels it spans, ``factor`` except at the bottom and right edges).
    """
    f = max(1, int(factor))
    bh, bw = -(-h // f), -(-w // f)
    bv, by, bx = np.meshgrid(np.arange(V), np.arange(bh), np.arange(bw), indexing="ij")
    bv, by, bx = bv.ravel(), by.ravel(), bx.ravel()
    return {"view": bv, "row": by, "col": bx,
            "rows": np.minimum(f, h - by * f), "cols": np.minimum(f, w - bx * f)}


def draw_block_pixels(rng: np.random.Generator, blocks: dict[str, np.ndarray], h: int, w: int,
                      factor: int) -> np.ndarray:
    """One uniformly drawn pixel of every block of ``image_blocks``: (B,) int64 flat
    indices. Draws the rows, then the columns, from ``rng``."""
    f = max(1, int(factor))
    n = blocks["view"].size
    row = blocks["row"] * f + (rng.random(n) * blocks["rows"]).astype(np.int64)
    col = blocks["col"] * f + (rng.random(n) * blocks["cols"]).astype(np.int64)
    return flat_index(blocks["view"], row, col, h, w)


def spread_blocks(values: np.ndarray, V: int, h: int, w: int, factor: int) -> np.ndarray:
    """Per-block values (B, ...) in ``image_blocks`` order -> per-pixel (V, h, w, ...): every
    pixel gets the value of its block."""
    f = max(1, int(factor))
    bh, bw = -(-h // f), -(-w // f)
    values = np.asarray(values)
    grid = values.reshape((V, bh, bw) + values.shape[1:])
    return grid[:, np.arange(h) // f][:, :, np.arange(w) // f]

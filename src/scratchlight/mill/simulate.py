"""The height field of a block of stock after a tool path: grid, tooth passes, the sweep.

The stock is a box whose top is the plane z = Z0 over [X0, X1] x [Y0, Y1]. The simulated
window (the stock, or a ``region`` of it) is sampled at cell centres ``spacing`` apart:
``n = round(width / spacing)`` points per side, point (i, j) at
``(x0 + (j + 1/2) spacing, y0 + (i + 1/2) spacing)``. Heights start at Z0 and only fall.

Tooth passes: with spindle speed S (rev/min), feed F (m/min) and ``teeth`` teeth, a tooth
passes every ``fz = F / (S teeth)`` metres of path; the count continues from move to move
(the spindle keeps turning), so the marks of consecutive moves line up as on a machine.
Rapids, moves with the spindle stopped, and ``envelope=True`` leave the swept envelope.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap
from .kernel import new_tilemax, sweep_segments
from .motion import Path
from .tools import KIND_CODES, Tool

__all__ = ["Stock", "Window", "MillResult", "grid_window", "simulate", "CHUNK_SEGMENTS"]

CHUNK_SEGMENTS = 4096
"""Segments per compiled call (the progress bar's step)."""


@dataclasses.dataclass(frozen=True)
class Stock:
    """The stock: x and y ranges and the top's height, metres."""

    x0: float
    x1: float
    y0: float
    y1: float
    top: float


@dataclasses.dataclass(frozen=True)
class Window:
    """The simulated grid: lower-left corner of the first cell, spacing and size."""

    x0: float
    y0: float
    spacing: float
    nx: int
    ny: int

    def axes(self) -> tuple[np.ndarray, np.ndarray]:
        """(x (nx,), y (ny,)) float64 coordinates of the grid points (cell centres), m."""
        h = self.spacing
        return (self.x0 + (np.arange(self.nx) + 0.5) * h,
                self.y0 + (np.arange(self.ny) + 0.5) * h)


@dataclasses.dataclass
class MillResult:
    """A simulation's height map and what it did.

    Attributes:
        heightmap: the simulated surface (heights in metres, absolute Z).
        tooth_marks: segments cut tooth pass by tooth pass; envelope: segments swept
            continuously (rapids, spindle stopped, or asked for).
        seconds: time in the compiled sweep.
    """

    heightmap: HeightMap
    tooth_marks: int
    envelope: int
    seconds: float


def grid_window(stock: Stock, spacing: float,
                region: tuple[float, float, float, float] | None = None) -> Window:
    """The grid of ``region`` (x0, x1, y0, y1; metres; the whole stock if None) at
    ``spacing`` metres, refused above the point limit (``io.guards``)."""
    from ..io.guards import check_point_count

    if not (math.isfinite(spacing) and spacing > 0):
        raise InputError("spacing", f"must be a positive length, got {spacing}")
    x0, x1, y0, y1 = region if region is not None else (stock.x0, stock.x1, stock.y0, stock.y1)
    where = "region" if region is not None else "stock"
    if not (x1 > x0 and y1 > y0):
        raise InputError(where, "needs X0 < X1 and Y0 < Y1")
    if region is not None:
        eps = 1e-12
        if x0 < stock.x0 - eps or x1 > stock.x1 + eps or y0 < stock.y0 - eps or \
                y1 > stock.y1 + eps:
            raise InputError("region", "must lie within the stock's x and y ranges")
    nx = int(round((x1 - x0) / spacing))
    ny = int(round((y1 - y0) / spacing))
    if nx < 3 or ny < 3:
        raise InputError("spacing", f"gives a grid of {nx} x {ny} points; at least 3 x 3 are "
                                    "needed")
    check_point_count("spacing", nx, ny, what="simulation grid")
    return Window(x0, y0, spacing, nx, ny)


def _tool_of_segments(path: Path, tool: Tool | None, table: dict[int, Tool] | None,
                      where: str) -> list[tuple[Tool, np.ndarray]]:
    """[(tool, indices of its segments)] in program order of first use."""
    numbers = path.tool
    if table is None:
        if tool is None:
            raise InputError("tool", "give the tool (--tool SPEC) or a tool table")
        used = sorted({int(n) for n in numbers if n >= 0})
        if len(used) > 1:
            first = numbers[numbers >= 0][0]
            k = int(np.argmax((numbers >= 0) & (numbers != first)))
            raise InputError(where, f"line {path.line[k]}: T{numbers[k]}: the program changes "
                                    "tools; give a tool table (--tool-table) for its tools")
        return [(tool, np.arange(len(numbers)))]
    groups = []
    for n in dict.fromkeys(int(v) for v in numbers):
        idx = np.flatnonzero(numbers == n)
        if n < 0:
            if tool is None:
                raise InputError(where, f"line {path.line[idx[0]]}: a move before the first "
                                        "tool change (T.. M6); give --tool for the tool in "
                                        "the spindle at the start")
            groups.append((tool, idx))
        elif n not in table:
            raise InputError(where, f"line {path.line[idx[0]]}: T{n} is not in the tool "
                                    f"table (it has {', '.join(f'T{k}' for k in sorted(table))})")
        else:
            groups.append((table[n], idx))
    return groups


def _passes(seg: np.ndarray, feed: np.ndarray, spindle: np.ndarray, tool: Tool,
            envelope: bool) -> tuple[np.ndarray, np.ndarray]:
    """(phase, fz along the ground line) per segment; fz 0 where the envelope is cut."""
    d = seg[:, 3:] - seg[:, :3]
    length3 = np.sqrt((d * d).sum(axis=1))
    ground = np.hypot(d[:, 0], d[:, 1])
    teeth_on = (feed > 0) & (spindle > 0) & (ground > 1e-12) & (not envelope)
    fz = np.zeros(len(seg))
    fz[teeth_on] = feed[teeth_on] / (spindle[teeth_on] * tool.teeth)
    passes = np.where(teeth_on, length3 / np.where(fz > 0, fz, 1.0), 0.0)
    phase = np.concatenate([[0.0], np.cumsum(passes)[:-1]])
    fz_ground = np.where(teeth_on, fz * ground / np.where(length3 > 0, length3, 1.0), 0.0)
    return phase, fz_ground


def simulate(path: Path, stock: Stock, window: Window, tool: Tool | None = None,
             table: dict[int, Tool] | None = None, envelope: bool = False,
             where: str = "program", progress: bool = True, source: str = "") -> MillResult:
    """The stock's height field after the tool path ``path`` (see the module docstring).

    ``tool``: the tool in the spindle (for the whole program without ``table``);
    ``table``: the tools ``T.. M6`` loads. Returns a :class:`MillResult`.
    """
    from tqdm import tqdm

    heights = np.full((window.ny, window.nx), float(stock.top))
    tilemax = new_tilemax(heights)
    h = window.spacing
    cx0, cy0 = window.x0 + 0.5 * h, window.y0 + 0.5 * h
    n_teeth = n_env = 0
    seconds = 0.0
    total = len(path.segments)
    bar = tqdm(total=total, unit="seg", desc="mill", disable=not progress or total < 2 * CHUNK_SEGMENTS,
               leave=False)
    for t, idx in _tool_of_segments(path, tool, table, where):
        seg = path.segments[idx]
        phase, fz = _passes(seg, path.feed[idx], path.spindle[idx], t, envelope)
        n_teeth += int((fz > 0).sum())
        n_env += int((fz == 0).sum())
        depth = stock.top - np.minimum(seg[:, 2], seg[:, 5])
        reach = np.array([t.reach(float(v)) for v in depth]) if len(depth) < 64 else \
            _reach_vector(t, depth)
        offsets = t.tooth_offsets()
        for start in range(0, len(seg), CHUNK_SEGMENTS):
            part = slice(start, start + CHUNK_SEGMENTS)
            t0 = time.perf_counter()
            sweep_segments(heights, tilemax, cx0, cy0, h, seg[part], phase[part], fz[part],
                           reach[part], KIND_CODES[t.kind], t.radius, t.corner, t.cot, offsets,
                           lead=t.kind == "face")
            seconds += time.perf_counter() - t0
            bar.update(len(seg[part]))
    bar.close()
    hm = HeightMap(heights=heights, dx=h, dy=h, valid=np.ones(heights.shape, bool),
                   source=source or "scratchlight mill",
                   provenance={"heights": "simulated cut (scratchlight mill)",
                               "spacing": "mill --spacing"})
    return MillResult(hm, n_teeth, n_env, seconds)


def _reach_vector(tool: Tool, depth: np.ndarray) -> np.ndarray:
    """``tool.reach`` of every depth (metres), vectorised."""
    R, d = tool.radius, np.maximum(depth, 0.0)
    if tool.kind == "flat":
        r = np.full_like(d, R)
    elif tool.kind == "ball":
        r = np.where(d >= R, R, np.sqrt(np.maximum(2 * R * d - d * d, 0.0)))
    elif tool.kind == "bull":
        c = tool.corner
        r = np.where(d >= c, R, (R - c) + np.sqrt(np.maximum(2 * c * d - d * d, 0.0)))
    else:
        r = np.minimum(R, d / tool.cot)
    return np.where(depth > 0, r, 0.0)

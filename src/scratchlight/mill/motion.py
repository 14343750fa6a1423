"""The machine's modal state run over a program's blocks: straight segments of the tip.

Every move becomes straight segments of the tool tip in metres (arcs as chords whose
sagitta is at most ``chord_tolerance``), each with its feed (metres per minute; 0 for a
rapid), spindle speed (rev/min; 0 when stopped), tool number and program line.

Units: G21 millimetres (the default) or G20 inches; G90 absolute (default) or G91
incremental; arc centres ``I J K`` are always relative to the start (G91.1). Arcs lie in
the plane of G17 (XY, the default), G18 (ZX) or G19 (YZ), clockwise (G2) or counter-
clockwise (G3) seen from the plane's normal axis, with a helical move along that axis.
The tool axis stays Z, so a height field holds every move of every plane. ``R`` arcs take
the short way for R > 0 and the long way for R < 0; a full circle needs I J K. An arc
whose start and end radii (I J K form) differ, or whose chord exceeds 2|R| (R form), by
more than ``arc_tolerance(r)`` is refused.

The tool starts where the program first puts it: until X, Y and Z have all been given,
G0 only sets the axes it names (nothing is cut), and a cutting move is refused.
Lines after M2 or M30 are not run, as on a machine.
"""
from __future__ import annotations

import array
import dataclasses
import math

import numpy as np

from ..errors import InputError
from .gcode import read_blocks

__all__ = ["Path", "run_program", "arc_tolerance", "MAX_ARC_CHORDS", "MAX_SEGMENTS",
           "ARC_TOLERANCE_M", "ARC_TOLERANCE_REL"]

ARC_TOLERANCE_M = 5e-6
"""Arcs whose radii disagree by up to max(5 um, 1e-4 r) are run (as a spiral)."""
ARC_TOLERANCE_REL = 1e-4
MAX_ARC_CHORDS = 100_000
"""At most this many chords per arc; a finer chord tolerance is then not met (reported)."""
MAX_SEGMENTS = 2_000_000
"""A program that makes more straight segments than this is refused."""

_UNIT_M = {20.0: 0.0254, 21.0: 1e-3}
_PLANES = {17.0: (0, 1, 2), 18.0: (2, 0, 1), 19.0: (1, 2, 0)}  # (a, b, normal) axes
_CENTRE_LETTERS = "IJK"


def arc_tolerance(radius: float) -> float:
    """How far (metres) an arc's two radii, or its chord and 2|R|, may disagree."""
    return max(ARC_TOLERANCE_M, ARC_TOLERANCE_REL * abs(radius))


@dataclasses.dataclass
class Path:
    """The straight segments of a program's tip path.

    Attributes:
        segments: (n, 6) float64 start and end points (x0, y0, z0, x1, y1, z1), metres.
        feed: (n,) float64 feed rate, metres per minute (0: a rapid move).
        spindle: (n,) float64 spindle speed, rev/min (0: spindle stopped).
        tool: (n,) int64 tool number (-1: no T word was given).
        line: (n,) int64 program line of each segment.
        arcs: number of arcs; worst_sagitta: the largest chord sagitta (metres).
        blocks: number of blocks run.
    """

    segments: np.ndarray
    feed: np.ndarray
    spindle: np.ndarray
    tool: np.ndarray
    line: np.ndarray
    arcs: int = 0
    worst_sagitta: float = 0.0
    blocks: int = 0


class _Machine:
    def __init__(self, where: str, chord_tolerance: float):
        self.where, self.chord = where, chord_tolerance
        self.unit, self.absolute, self.plane = 1e-3, True, 17.0
        self.motion: float | None = None
        self.feed, self.speed, self.spindle_on = 0.0, 0.0, False
        self.tool, self.pending_tool = -1, None
        self.pos: list[float | None] = [None, None, None]
        self.out = array.array("d")            # 10 numbers a segment: 80 bytes
        self.arcs, self.worst = 0, 0.0

    def error(self, block, word: str, problem: str) -> InputError:
        return InputError(self.where, f"line {block.line}: {word}: {problem}")

    # ------------------------------------------------------------------ one block
    def run(self, b) -> bool:
        """Run one block; False after M2/M30 (the program's end)."""
        w = b.words
        for code in b.g:
            if code in _UNIT_M:
                self.unit = _UNIT_M[code]
            elif code in (90.0, 91.0):
                self.absolute = code == 90.0
            elif code in _PLANES:
                self.plane = code
            elif code == 80.0:
                self.motion = None
        if "F" in w:
            if w["F"] < 0:
                raise self.error(b, f"F{w['F']:g}", "a feed rate must be >= 0")
            self.feed = w["F"] * self.unit
        if "S" in w:
            if w["S"] < 0:
                raise self.error(b, f"S{w['S']:g}", "a spindle speed must be >= 0")
            self.speed = w["S"]
        if "T" in w:
            if w["T"] != int(w["T"]) or w["T"] < 0:
                raise self.error(b, f"T{w['T']:g}", "a tool number must be a whole number >= 0")
            self.pending_tool = int(w["T"])
        for code in b.m:
            if code in (3, 4):
                self.spindle_on = True
            elif code == 5:
                self.spindle_on = False
            elif code == 6:
                if self.pending_tool is None:
                    raise self.error(b, "M6", "a tool change needs a T word first")
                self.tool = self.pending_tool
        if "H" in w and 43.0 not in b.g:
            raise self.error(b, f"H{w['H']:g}", "an H word belongs with G43")
        if "P" in w and 4.0 not in b.g:
            raise self.error(b, f"P{w['P']:g}", "a P word belongs with G4 (dwell) only")
        motion = next((c for c in b.g if G_MOTION(c)), None)
        if motion is not None:
            self.motion = motion
        axes = [w.get(k) for k in "XYZ"]
        has_arc_words = any(k in w for k in "IJKR")
        if 4.0 in b.g:
            if any(a is not None for a in axes) or has_arc_words:
                raise self.error(b, "G4", "a dwell cannot share its line with a move")
        elif any(a is not None for a in axes) or has_arc_words:
            if self.motion is None:
                word = next(k for k in "XYZIJKR" if k in w)
                raise self.error(b, f"{word}{w[word]:g}", "a coordinate without a motion "
                                                          "mode (G0, G1, G2 or G3)")
            self.move(b, axes)
        return not any(code in (2, 30) for code in b.m)

    # ------------------------------------------------------------------ moves
    def target(self, b, axes) -> list[float | None]:
        out = list(self.pos)
        for k, v in enumerate(axes):
            if v is None:
                continue
            if self.absolute:
                out[k] = v * self.unit
            elif self.pos[k] is None:
                raise self.error(b, f"{'XYZ'[k]}{v:g}", "an incremental (G91) move from an "
                                                        "unknown position")
            else:
                out[k] = self.pos[k] + v * self.unit
        return out

    def move(self, b, axes):
        end = self.target(b, axes)
        if self.motion != 0.0 and any(k in b.words for k in "IJKR") and self.motion == 1.0:
            word = next(k for k in "IJKR" if k in b.words)
            raise self.error(b, f"{word}{b.words[word]:g}", "arc words on a straight move (G1)")
        if None in self.pos:
            if self.motion != 0.0:
                raise self.error(b, f"G{self.motion:g}", "a cutting move from an unknown "
                                                         "position: give X, Y and Z first "
                                                         "(e.g. with G0)")
            self.pos = end
            return
        if self.motion == 0.0:
            if any(k in b.words for k in "IJKR"):
                raise self.error(b, "G0", "arc words on a rapid move")
            self.segment(b, self.pos, end, 0.0)
        elif self.motion == 1.0:
            self.cutting_feed(b)
            self.segment(b, self.pos, end, self.feed)
        else:
            self.cutting_feed(b)
            self.arc(b, end)
        self.pos = end

    def cutting_feed(self, b):
        if self.feed <= 0:
            raise self.error(b, f"G{self.motion:g}", "a cutting move needs a feed rate (F > 0)")

    def segment(self, b, start, end, feed):
        speed = self.speed if self.spindle_on else 0.0
        self.out.extend((*start, *end, feed, speed, self.tool, b.line))
        if len(self.out) > 10 * MAX_SEGMENTS:
            raise self.error(b, "program", f"makes more than {MAX_SEGMENTS:,} straight segments")

    def arc(self, b, end):
        a, c, n = _PLANES[self.plane]
        w = b.words
        start = self.pos
        sa, sb, ea, eb = start[a], start[c], end[a], end[c]
        clockwise = self.motion == 2.0
        name = f"G{self.motion:g}"
        if "R" in w:
            if any(k in w for k in "IJK"):
                raise self.error(b, "R", "an arc takes either R or I J K, not both")
            r = w["R"] * self.unit
            chord = math.hypot(ea - sa, eb - sb)
            if chord < 1e-12:
                raise self.error(b, f"R{w['R']:g}", "an R arc cannot be a full circle (use "
                                                    "I J K)")
            if r == 0:
                raise self.error(b, "R0", "an arc radius must not be 0")
            tol = arc_tolerance(r)
            h2 = r * r - chord * chord / 4
            if h2 < 0 and chord / 2 - abs(r) > tol:
                raise self.error(b, f"R{w['R']:g}", f"the end point is {chord * 1e3:.6g} mm "
                                 f"from the start, more than 2|R| = {2e3 * abs(r):.6g} mm; "
                                 f"the tolerance is {tol * 1e6:.3g} um")
            h = math.sqrt(max(h2, 0.0))
            # left of the chord for a short counter-clockwise arc; R < 0 takes the long way
            side = (1.0 if not clockwise else -1.0) * (1.0 if r > 0 else -1.0)
            ua, ub = -(eb - sb) / chord, (ea - sa) / chord
            ca = (sa + ea) / 2 + side * h * ua
            cb = (sb + eb) / 2 + side * h * ub
        else:
            letters = (_CENTRE_LETTERS[a], _CENTRE_LETTERS[c])
            wrong = next((k for k in "IJK" if k in w and k not in letters), None)
            if wrong is not None:
                raise self.error(b, f"{wrong}{w[wrong]:g}", f"not an arc centre word of the "
                                 f"G{self.plane:g} plane (use {' and '.join(letters)})")
            if not any(k in w for k in letters):
                raise self.error(b, name, "an arc needs a centre (I J K) or a radius (R)")
            ca = sa + w.get(letters[0], 0.0) * self.unit
            cb = sb + w.get(letters[1], 0.0) * self.unit
        r0 = math.hypot(sa - ca, sb - cb)
        r1 = math.hypot(ea - ca, eb - cb)
        tol = arc_tolerance(max(r0, r1))
        if abs(r1 - r0) > tol:
            raise self.error(b, name, f"the radius is {r0 * 1e3:.6g} mm at the start and "
                             f"{r1 * 1e3:.6g} mm at the end: they differ by "
                             f"{abs(r1 - r0) * 1e6:.3g} um, more than the tolerance "
                             f"{tol * 1e6:.3g} um")
        if r0 < 1e-9:
            raise self.error(b, name, "the arc's centre is its start point")
        t0 = math.atan2(sb - cb, sa - ca)
        t1 = math.atan2(eb - cb, ea - ca)
        if clockwise:
            sweep = -((t0 - t1) % (2 * math.pi))
        else:
            sweep = (t1 - t0) % (2 * math.pi)
        if abs(sweep) < 1e-12 and math.hypot(ea - sa, eb - sb) <= tol:
            sweep = -2 * math.pi if clockwise else 2 * math.pi  # I J K full circle
        r_max = max(r0, r1)
        step = 2 * math.acos(max(1.0 - self.chord / r_max, -1.0))
        count = max(1, math.ceil(abs(sweep) / step)) if step > 0 else MAX_ARC_CHORDS
        count = min(count, MAX_ARC_CHORDS)
        self.worst = max(self.worst, r_max * (1 - math.cos(abs(sweep) / count / 2)))
        self.arcs += 1
        t = np.linspace(0.0, 1.0, count + 1)
        radius = r0 + (r1 - r0) * t                  # a spiral when the radii differ a little
        pts = np.empty((count + 1, 3))
        pts[:, a] = ca + radius * np.cos(t0 + sweep * t)
        pts[:, c] = cb + radius * np.sin(t0 + sweep * t)
        pts[:, n] = start[n] + (end[n] - start[n]) * t
        pts[0], pts[-1] = start, end
        for k in range(count):
            self.segment(b, tuple(pts[k]), tuple(pts[k + 1]), self.feed)


def G_MOTION(code: float) -> bool:
    return code in (0.0, 1.0, 2.0, 3.0)


def run_program(text: str, where: str = "program", chord_tolerance: float = 0.05e-6) -> Path:
    """The tip path of a program's ``text`` (``where`` names it in errors);
    ``chord_tolerance``: the largest sagitta (metres) of an arc's chords."""
    if not chord_tolerance > 0:
        raise InputError("chord_tolerance", f"must be positive, got {chord_tolerance}")
    machine = _Machine(where, chord_tolerance)
    blocks = 0
    for block in read_blocks(text, where):
        blocks += 1
        if not machine.run(block):
            break
    rows = np.frombuffer(machine.out, dtype=np.float64).reshape(-1, 10)
    return Path(segments=rows[:, :6].copy(), feed=rows[:, 6].copy(), spindle=rows[:, 7].copy(),
                tool=rows[:, 8].astype(np.int64), line=rows[:, 9].astype(np.int64),
                arcs=machine.arcs, worst_sagitta=machine.worst, blocks=blocks)

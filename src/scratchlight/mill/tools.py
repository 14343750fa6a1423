"""Milling tools: their shape as a height profile, the ``--tool`` grammar and tool tables.

A tool is a solid of revolution about the vertical spindle axis. Its programmed point is
the tip: the lowest point on the axis. ``profile(rho)`` is the height (metres) of the
tool's lower surface above the tip at radial distance ``rho`` (metres) from the axis; past
the tool's radius the sides are vertical, so nothing there is cut (``inf``).

``flat``  flat end mill of radius R: 0 for rho <= R.
``ball``  ball-end mill of radius R: R - sqrt(R^2 - rho^2).
``bull``  bull-nose (torus) mill of radius R and corner radius r: 0 up to R - r, then
          the corner's circle r - sqrt(r^2 - (rho - R + r)^2).
``v``     V (cone) cutter of included angle a and radius R: rho / tan(a / 2).
``face``  face mill of radius R with inserts of corner radius r: the bull-nose shape, but
          its spindle is tilted so that on level moves each tooth pass cuts with the ring
          of insert corners of the tool's leading half only (``synth``'s face-mill model).

The ``--tool`` grammar: ``KIND:key=value,key=value``, e.g. ``ball:d=6mm``,
``flat:d=10mm,teeth=4``, ``bull:d=10mm,r=1mm``, ``v:angle=90deg,d=6mm``,
``face:d=50mm,r=0.8mm,teeth=4``. Keys: ``d`` diameter (required), ``r`` corner radius
(bull, face: required), ``angle`` included angle (v,
required), ``teeth`` (default 2), ``runout`` axial runout (default 0). Lengths take a unit
(``um``, ``mm``, ``in``; a bare number is millimetres), angles ``deg`` or ``rad`` (bare:
degrees). A tool table is a text file of lines ``T<n> <spec>`` (``#`` starts a comment).
"""
from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

from ..errors import InputError

__all__ = ["Tool", "KINDS", "KIND_CODES", "parse_tool", "parse_length", "read_tool_table",
           "MAX_TEETH"]

KINDS = ("flat", "ball", "bull", "v", "face")
KIND_CODES = {"flat": 0, "ball": 1, "bull": 2, "v": 3, "face": 2}
"""The integer code of each kind, as the compiled kernel reads it."""
MAX_TEETH = 64
_UNITS = {"um": 1e-6, "µm": 1e-6, "mm": 1e-3, "cm": 1e-2, "m": 1.0, "in": 0.0254}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zµ]*)\s*$")


def parse_length(text: str, where: str, bare: float = 1e-3) -> float:
    """``'6mm'`` -> 0.006 (metres). Units um, mm, cm, m, in; a bare number is multiplied by
    ``bare`` (millimetres by default). Raises InputError(where) for anything else."""
    m = _NUMBER.match(str(text).lower())
    if not m or (m.group(2) and m.group(2) not in _UNITS):
        raise InputError(where, f"expected a length such as 6mm, 250um or 0.25in, got {text!r}")
    value = float(m.group(1)) * (_UNITS[m.group(2)] if m.group(2) else bare)
    if not math.isfinite(value):
        raise InputError(where, f"must be finite, got {text!r}")
    return value


def _parse_angle(text: str, where: str) -> float:
    m = _NUMBER.match(str(text).lower())
    if not m or m.group(2) not in ("", "deg", "rad"):
        raise InputError(where, f"expected an angle such as 90deg or 1.57rad, got {text!r}")
    value = float(m.group(1))
    return value if m.group(2) == "rad" else math.radians(value)


@dataclasses.dataclass(frozen=True)
class Tool:
    """A milling tool (lengths in metres, angles in radians).

    Attributes:
        kind: one of ``KINDS``.
        radius: R, half the cutting diameter.
        corner: corner radius of a bull-nose tool (0 otherwise).
        half_angle: half the included angle of a V cutter (0 otherwise).
        teeth: number of cutting teeth (flutes).
        runout: axial runout: tooth j cuts ``runout/2 (1 - cos(2 pi j / teeth))`` above
            the tip, so tooth 0 reaches the programmed point and every ``teeth``-th
            feed mark differs.
        spec: the text the tool was given as.
    """

    kind: str
    radius: float
    corner: float = 0.0
    half_angle: float = 0.0
    teeth: int = 2
    runout: float = 0.0
    spec: str = ""

    @property
    def cot(self) -> float:
        """1 / tan(half angle) of a V cutter: its flank's rise per radial distance."""
        return 1.0 / math.tan(self.half_angle) if self.kind == "v" else 0.0

    def tooth_offsets(self) -> np.ndarray:
        """(teeth,) float64 heights (metres) of each tooth above the tip (runout)."""
        j = np.arange(self.teeth)
        return 0.5 * self.runout * (1.0 - np.cos(2.0 * np.pi * j / self.teeth))

    def profile(self, rho) -> np.ndarray:
        """Height (metres) of the lower surface above the tip at radial distance ``rho``
        (metres, any shape); ``inf`` past the radius."""
        rho = np.asarray(rho, dtype=float)
        R = self.radius
        inside = rho <= R
        r = np.where(inside, rho, 0.0)
        if self.kind == "flat":
            h = np.zeros_like(r)
        elif self.kind == "ball":
            h = R - np.sqrt(np.maximum(R * R - r * r, 0.0))
        elif self.kind in ("bull", "face"):
            d = np.maximum(r - (R - self.corner), 0.0)
            h = self.corner - np.sqrt(np.maximum(self.corner ** 2 - d * d, 0.0))
        else:
            h = r * self.cot
        return np.where(inside, h, np.inf)

    def reach(self, depth: float) -> float:
        """The largest radial distance (metres) at which the tool is less than ``depth``
        (metres) above its tip: the radius of what it cuts ``depth`` deep (0 if depth <= 0)."""
        R = self.radius
        if depth <= 0:
            return 0.0
        if self.kind == "flat":
            return R
        if self.kind == "ball":
            return R if depth >= R else math.sqrt(2 * R * depth - depth * depth)
        if self.kind in ("bull", "face"):
            c = self.corner
            return R if depth >= c else (R - c) + math.sqrt(2 * c * depth - depth * depth)
        return min(R, depth / self.cot)

    def describe(self) -> str:
        """One line, e.g. 'ball, d = 6 mm, 2 teeth'."""
        text = f"{self.kind}, d = {2e3 * self.radius:g} mm"
        if self.kind in ("bull", "face"):
            text += f", r = {1e3 * self.corner:g} mm"
        if self.kind == "v":
            text += f", angle = {math.degrees(2 * self.half_angle):g} deg"
        text += f", {self.teeth} teeth"
        if self.runout:
            text += f", runout {1e6 * self.runout:g} um"
        return text

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


_KEYS = {"flat": {"d"}, "ball": {"d"}, "bull": {"d", "r"}, "v": {"d", "angle"},
         "face": {"d", "r"}}


def parse_tool(spec: str, where: str = "tool") -> Tool:
    """The tool of a ``--tool`` spec (grammar in the module docstring)."""
    text = str(spec).strip()
    kind, sep, rest = text.partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise InputError(where, f"unknown tool kind {kind!r} in {text!r}; expected one of "
                                f"{', '.join(KINDS)} (e.g. ball:d=6mm)")
    values: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))) if sep else ():
        key, eq, value = item.partition("=")
        key = key.strip().lower()
        if not eq or not value.strip():
            raise InputError(where, f"expected key=value, got {item!r} in {text!r}")
        if key not in _KEYS[kind] | {"teeth", "runout"}:
            allowed = ", ".join(sorted(_KEYS[kind] | {"teeth", "runout"}))
            raise InputError(where, f"{kind} tools take {allowed}; got {key!r} in {text!r}")
        if key in values:
            raise InputError(where, f"{key!r} given twice in {text!r}")
        values[key] = value.strip()
    missing = sorted(_KEYS[kind] - set(values))
    if missing:
        raise InputError(where, f"a {kind} tool needs {', '.join(missing)} (e.g. "
                                f"{_EXAMPLES[kind]}), got {text!r}")
    radius = parse_length(values["d"], where) / 2
    if radius <= 0:
        raise InputError(where, f"the diameter must be positive, got {values['d']!r}")
    corner = half_angle = 0.0
    if kind in ("bull", "face"):
        corner = parse_length(values["r"], where)
        if not 0 < corner <= radius:
            raise InputError(where, f"the corner radius must be in (0, d/2 = {radius * 1e3:g} "
                                    f"mm], got {values['r']!r}")
    if kind == "v":
        angle = _parse_angle(values["angle"], where)
        if not math.radians(1) <= angle <= math.radians(179):
            raise InputError(where, f"the included angle must be in [1, 179] deg, got "
                                    f"{values['angle']!r}")
        half_angle = angle / 2
    teeth_text = values.get("teeth", "2")
    if not teeth_text.isdigit() or not 1 <= int(teeth_text) <= MAX_TEETH:
        raise InputError(where, f"teeth must be a whole number in [1, {MAX_TEETH}], got "
                                f"{teeth_text!r}")
    runout = parse_length(values.get("runout", "0"), where)
    if runout < 0 or runout > radius:
        raise InputError(where, f"the runout must be in [0, d/2], got {values['runout']!r}")
    return Tool(kind, radius, corner, half_angle, int(teeth_text), runout, text)


_EXAMPLES = {"flat": "flat:d=10mm", "ball": "ball:d=6mm", "bull": "bull:d=10mm,r=1mm",
             "v": "v:angle=90deg,d=6mm", "face": "face:d=50mm,r=0.8mm,teeth=4"}


def read_tool_table(path: str) -> dict[int, Tool]:
    """The tools of a tool table: ``{number: Tool}`` from lines ``T<n> <spec>``."""
    from ..io.guards import check_regular_file

    check_regular_file(path)
    if os.path.getsize(path) > 1_000_000:
        raise InputError(path, "a tool table over 1 MB is not plausible")
    tools: dict[int, Tool] = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            m = re.match(r"^[tT](\d+)\s+(\S+)$", text)
            if not m:
                raise InputError(path, f"line {number}: expected 'T<n> <tool spec>' "
                                       f"(e.g. T1 ball:d=6mm), got {text!r}")
            n = int(m.group(1))
            if n in tools:
                raise InputError(path, f"line {number}: T{n} is defined twice")
            tools[n] = parse_tool(m.group(2), f"{path}: line {number}")
    if not tools:
        raise InputError(path, "the tool table holds no tool")
    return tools

"""Length units named in height-map files, as factors to metres."""
from __future__ import annotations

import re

__all__ = ["LENGTH_UNITS", "metres_per", "parse_length", "to_metres"]

# Lower-case unit name -> metres per unit. Both micro signs (U+00B5 and U+03BC) are accepted.
LENGTH_UNITS = {
    "m": 1.0, "meter": 1.0, "metre": 1.0, "meters": 1.0, "metres": 1.0,
    "cm": 1e-2,
    "mm": 1e-3, "millimeter": 1e-3, "millimetre": 1e-3,
    "um": 1e-6, "\u00b5m": 1e-6, "\u03bcm": 1e-6, "micron": 1e-6, "microns": 1e-6,
    "micrometer": 1e-6, "micrometre": 1e-6,
    "nm": 1e-9, "nanometer": 1e-9, "nanometre": 1e-9,
    "pm": 1e-12,
    "\u00e5": 1e-10, "angstrom": 1e-10,
    "in": 0.0254, "inch": 0.0254,
}

# linear in the text: no two adjacent repeats can trade characters (a long run of digits
# or blanks cannot make it backtrack quadratically)
_NUMBER_UNIT = re.compile(r"([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)")


def metres_per(unit: str) -> float | None:
    """Metres per ``unit`` (e.g. 'mm' -> 1e-3), or None for an unknown or empty name."""
    return LENGTH_UNITS.get(str(unit).strip().lower())


def to_metres(value, factor: float):
    """``value * factor`` (scalar or array), dividing by 1/factor when that is a whole number
    so that e.g. 2.5 um gives exactly 2.5e-6."""
    inverse = round(1.0 / factor) if factor < 1 else 0
    if inverse and abs(inverse * factor - 1.0) < 1e-12:
        return value / inverse
    return value * factor


def parse_length(text: str, default_unit: str = "m") -> float | None:
    """'2.5 um' or '2.5um' -> 2.5e-6 (metres); a bare number is in ``default_unit``.

    Returns None when the text is not a number followed by an optional known unit.
    """
    m = _NUMBER_UNIT.fullmatch(str(text).strip())
    if not m:
        return None
    factor = metres_per(m.group(2) or default_unit)
    return None if factor is None else to_metres(float(m.group(1)), factor)

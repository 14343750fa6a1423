"""Header lines of text height maps: which keys are understood and what they set.

Three families of headers are understood (keys in any case):

- scratchlight's own ``# key = value`` lines: ``dx``, ``dy`` (spacing, a number with an
  optional unit), ``unit`` (every number without a unit), ``z_unit`` (heights),
  ``xy_unit`` (spacings and coordinates);
- Gwyddion's plain-text export (``# Channel:``, ``# Width: 4.113 µm``, ``# Height: ...``,
  ``# Value units: nm``; also its translations, e.g. German ``Breite``, ``Höhe``,
  ``Werteinheiten``): Width and Height are the physical sizes of the whole grid, so
  dx = Width / columns and dy = Height / rows, and heights are in the value unit;
- Lyncée Tec Koala text exports (``h=900 w=900``, ``pixel size=2.8e-07 m``,
  ``data unit=rad``, ``height conversion factor (-> m)=2.1e-07``, without ``#``): h and
  w are the rows and columns, the pixel size is dx = dy, and a phase (data unit rad) is
  turned into a height by the conversion factor.

A line that looks like ``key: value unit`` (a number with a unit) but whose key is not
understood is kept as a warning, never ignored in silence.
"""
from __future__ import annotations

import re

from ..errors import InputError
from ._units import metres_per, parse_length

__all__ = ["Header", "parse_header_line", "GWY_WIDTH", "GWY_HEIGHT", "GWY_VALUE_UNITS"]

# Gwyddion's labels in the languages of its user interface (lower case).
GWY_CHANNEL = {"channel", "kanál", "kanal", "canal", "canale", "チャネル", "채널", "канал"}
GWY_WIDTH = {"width", "šířka", "breite", "anchura", "largeur", "larghezza", "幅", "폭",
             "largura", "ширина"}
GWY_HEIGHT = {"height", "výška", "höhe", "altura", "hauteur", "altezza", "高さ", "높이",
              "высота"}
GWY_VALUE_UNITS = {"value units", "werteinheiten", "einheiten", "jednotky hodnot", "unités",
                   "unità valore", "値の単位", "값 단위", "unidades de valor",
                   "единицы измерения"}
_OWN_KEYS = {"dx", "dy", "unit", "z_unit", "xy_unit"}
_KOALA_KEYS = {"h", "w", "pixel size", "data unit"}
_CONVERSION = re.compile(r"^height conversion factor\s*\(\s*->\s*(.+?)\s*\)$")
# key and value: 'key = value', 'key: value' or the full-width colon of Japanese exports.
# The key is the text before the first separator, so a line is split in one pass; every
# pattern below runs in time linear in the line (no nested or adjacent overlapping
# repeats), so a long comment line cannot take quadratic time.
_SEPARATOR = re.compile(r"[=:\uff1a]")
_KEY = re.compile(r"[^\W\d][\w .()\->/\[\]]*")
# the look-behind starts a key only at a word's start: \w+ restarting at every letter of
# one long word would be quadratic
_PAIRS = re.compile(r"(?<!\w)(\w+)\s*=\s*(\S+)")
_NUMBER_WITH_UNIT = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*[^\W\d_]")
MAX_KEY_CHARS = 120
"""A header key longer than this is no key: the line is a comment (or data)."""
MAX_HEADER_LINE_CHARS = 4096
"""A header line longer than this is never a key/value line (real headers are short)."""


def _key_value(text: str) -> tuple[str, str] | None:
    """(key, value) of 'key = value' / 'key: value', or None; linear in ``text``."""
    m = _SEPARATOR.search(text)
    if m is None:
        return None
    key = text[:m.start()].strip()
    if len(key) > MAX_KEY_CHARS or not _KEY.fullmatch(key):
        return None
    return key, text[m.end():].strip()


class Header:
    """What the header lines of one text file said, as raw strings (parsed later)."""

    def __init__(self) -> None:
        self.own: dict[str, tuple[int, str]] = {}
        self.gwy: dict[str, tuple[int, str]] = {}
        self.koala: dict[str, tuple[int, str]] = {}
        self.conversion: tuple[int, str, str] | None = None  # line, target unit, factor
        self.not_understood: list[str] = []
        self.any_key = False

    def states_grid(self) -> bool:
        """True when the header describes a grid (so three columns are not x, y, z)."""
        return bool({"dx", "dy"} & set(self.own) or {"width", "height"} & set(self.gwy)
                    or {"h", "w", "pixel size"} & set(self.koala))


def parse_header_line(header: Header, lineno: int, text: str, commented: bool) -> str | None:
    """Record the header line ``text`` (without its leading '#') in ``header``.

    Returns "key" for a key that was understood, "other" for a line kept as a comment or
    as a warning (a key not understood), and None when the line is no key/value line at
    all. ``commented``: the line started with '#'.
    """
    if len(text) > MAX_HEADER_LINE_CHARS:
        return "other" if commented else None
    if not commented and text.count("=") > 1:  # Koala: 'h=900 w=900'
        pairs = _PAIRS.findall(text)
        if pairs and all(k.lower() in _KOALA_KEYS for k, _ in pairs):
            for k, v in pairs:
                header.koala[k.lower()] = (lineno, v)
            header.any_key = True
            return "key"
        return None
    kv = _key_value(text)
    if kv is None:
        return None
    key, value = " ".join(kv[0].lower().split()), kv[1]
    conversion = _CONVERSION.match(key)
    if conversion:
        header.conversion = (lineno, conversion.group(1), value)
    elif key.replace(" ", "_") in _OWN_KEYS:
        header.own[key.replace(" ", "_")] = (lineno, value)
    elif key in GWY_WIDTH:
        header.gwy["width"] = (lineno, value)
    elif key in GWY_HEIGHT:
        header.gwy["height"] = (lineno, value)
    elif key in GWY_VALUE_UNITS:
        header.gwy["value units"] = (lineno, value)
    elif key in GWY_CHANNEL:
        header.gwy["channel"] = (lineno, value)
    elif key in _KOALA_KEYS:
        header.koala[key] = (lineno, value)
    elif _NUMBER_WITH_UNIT.match(value):
        header.not_understood.append(f"line {lineno} {text.strip()!r}")
        return "other"
    elif not commented:
        return None
    else:
        return "other"  # '# Date: 2024-01-01' and the like: a comment
    header.any_key = True
    return "key"


def length(path: str, where: str, value: str, default_unit: str) -> float:
    """A length in metres from '2.5 um' (a bare number is in ``default_unit``)."""
    v = parse_length(value, default_unit)
    if v is None:
        raise InputError(path, f"{where}: {value!r} is not a number with a known length unit")
    return v


def unit_factor(path: str, where: str, value: str) -> float:
    """Metres per the unit named by ``value``."""
    f = metres_per(value)
    if f is None:
        raise InputError(path, f"{where}: {value!r} is not a known length unit")
    return f


def number(path: str, where: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InputError(path, f"{where}: {value!r} is not a number") from None

"""Plain-text height grids (``.csv``, ``.txt``, ``.asc``).

One line per row of the map (row i along y, in file order), one number per column (along
x). Fields are separated by semicolons, commas or whitespace (tabs included), whichever
the data uses, in that order of preference; with semicolons a decimal comma is accepted
('1,5;2,25'). A missing point is an empty field, ``nan``, ``na``, ``n/a`` or ``null`` (any
case), or the ``nodata_value`` of an ESRI header.

Header lines start with ``#``; those of the form ``# key = value`` (or ``key: value``) set:
- ``dx``, ``dy``: spacing, a number with an optional unit ('2.5 um'); ``dy`` defaults to
  ``dx`` and both to 1 um;
- ``unit``: the unit of every number in the file that has none (heights and spacings);
- ``z_unit`` / ``xy_unit``: the unit of the heights / of the spacings only.
Units: m, cm, mm, um (or micron, µm), nm, pm, angstrom, inch. Without a unit, numbers are
metres. Other ``#`` lines are comments.

An ESRI ASCII grid header (``ncols``, ``nrows``, ``xllcorner``/``xllcenter``, ``yll...``,
``cellsize`` or ``dx``/``dy``, ``nodata_value``; no ``#``) is understood too: ``cellsize``
gives dx = dy, and the grid size is checked against ``ncols`` x ``nrows``.
"""
from __future__ import annotations

import io
import re

import numpy as np

from ..errors import InputError
from ._units import metres_per, parse_length, to_metres
from ..heightmap import HeightMap
from .heightmap import READERS, check_heightmap

__all__ = ["read_text", "write_text", "DEFAULT_SPACING_M"]

DEFAULT_SPACING_M = 1e-6

_KEY_VALUE = re.compile(r"^#+\s*([A-Za-z_][\w ]*?)\s*[=:]\s*(.*?)\s*$")
_ESRI_KEYS = ("ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter",
              "cellsize", "dx", "dy", "nodata_value")
_ESRI_LINE = re.compile(r"^\s*(" + "|".join(_ESRI_KEYS) + r")\s+(\S+)\s*$", re.IGNORECASE)
_MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "-nan", "+nan"}


def _decode(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    if b"\x00" in raw[:4096]:
        raise InputError(path, "not a text file (binary data)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _parse_field(token: str, decimal_comma: bool) -> float:
    t = token.strip()
    if t.lower() in _MISSING_TOKENS:
        return np.nan
    if decimal_comma:
        t = t.replace(",", ".")
    return float(t)


def _parse_rows(path: str, rows: list[tuple[int, str]], sep: str | None,
                decimal_comma: bool) -> np.ndarray:
    """Grid (ny, nx) from (line number, text) pairs; InputError names the bad line."""
    width = None
    out = []
    for lineno, line in rows:
        fields = line.split() if sep is None else line.split(sep)
        try:
            values = [_parse_field(t, decimal_comma) for t in fields]
        except ValueError:
            bad = next(t for t in fields if not _is_number(t, decimal_comma))
            raise InputError(path, f"line {lineno}: {bad.strip()!r} is not a number") from None
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise InputError(path, f"line {lineno}: {len(values)} values, the rows above "
                                   f"have {width}")
        out.append(values)
    return np.array(out, dtype=np.float64)


def _is_number(token: str, decimal_comma: bool) -> bool:
    try:
        _parse_field(token, decimal_comma)
        return True
    except ValueError:
        return False


def _fast_parse(rows: list[tuple[int, str]], sep: str | None, decimal_comma: bool):
    """NumPy's parser for the common case; None when anything needs the careful path."""
    if decimal_comma:
        return None
    text = "\n".join(line for _, line in rows)
    try:
        grid = np.loadtxt(io.StringIO(text), delimiter=sep, ndmin=2, dtype=np.float64,
                          comments=None)
    except ValueError:
        return None
    return grid if grid.shape[0] == len(rows) else None


def _length(path: str, key: str, value: str, default_unit: str) -> float:
    v = parse_length(value, default_unit)
    if v is None:
        raise InputError(path, f"header {key} = {value!r} is not a number with a known unit")
    return v


def _unit(path: str, key: str, value: str) -> str:
    if metres_per(value) is None:
        raise InputError(path, f"header {key} = {value!r} is not a known length unit")
    return value


def read_text(path: str) -> HeightMap:
    """Read a text grid: heights (ny, nx) float64 in metres, dx/dy in metres."""
    text = _decode(path)
    header: dict[str, str] = {}
    esri: dict[str, str] = {}
    rows: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            m = _KEY_VALUE.match(s)
            if m:
                header[m.group(1).strip().lower().replace(" ", "_")] = m.group(2)
            continue
        m = _ESRI_LINE.match(s)
        if m and not rows:
            esri[m.group(1).lower()] = m.group(2)
            continue
        rows.append((lineno, s))
    if not rows:
        raise InputError(path, "no numeric rows found")

    unit_all = _unit(path, "unit", header["unit"]) if "unit" in header else "m"
    z_unit = _unit(path, "z_unit", header["z_unit"]) if "z_unit" in header else unit_all
    xy_unit = _unit(path, "xy_unit", header["xy_unit"]) if "xy_unit" in header else unit_all

    sample = "\n".join(line for _, line in rows[:50])
    sep = ";" if ";" in sample else ("," if "," in sample else None)
    decimal_comma = sep == ";" and "," in sample
    if sep is not None and all(line.endswith(sep) for _, line in rows):
        rows = [(k, line[:-1]) for k, line in rows]  # a separator closing every line
    grid = _fast_parse(rows, sep, decimal_comma)
    if grid is None:
        grid = _parse_rows(path, rows, sep, decimal_comma)

    valid = np.isfinite(grid)
    dx = dy = None
    if esri:
        if "nodata_value" in esri:
            try:
                valid &= grid != float(esri["nodata_value"])
            except ValueError:
                raise InputError(path, f"nodata_value {esri['nodata_value']!r} is not a number") from None
        for key, n in (("ncols", grid.shape[1]), ("nrows", grid.shape[0])):
            if key in esri and _is_number(esri[key], False) and float(esri[key]) != n:
                raise InputError(path, f"header says {key} {esri[key]} but the grid has {n}")
        if "cellsize" in esri:
            dx = dy = _length(path, "cellsize", esri["cellsize"], xy_unit)
        dx = _length(path, "dx", esri["dx"], xy_unit) if "dx" in esri else dx
        dy = _length(path, "dy", esri["dy"], xy_unit) if "dy" in esri else dy
    if "dx" in header:
        dx = _length(path, "dx", header["dx"], xy_unit)
    if "dy" in header:
        dy = _length(path, "dy", header["dy"], xy_unit)
    if dx is None:
        dx = dy if dy is not None else DEFAULT_SPACING_M
    if dy is None:
        dy = dx
    heights = to_metres(grid, metres_per(z_unit))
    return check_heightmap(heights, dx, dy, source=path, valid=valid)


def write_text(path: str, hm: HeightMap, unit: str = "um") -> None:
    """Write ``hm`` as a comma-separated grid with a ``# dx / dy / unit`` header (atomically).

    Heights and spacings are written in ``unit``; missing points as empty fields.
    """
    from .atomic import atomic_path

    f = metres_per(unit)
    if f is None:
        raise ValueError(f"unknown unit {unit!r}")
    h = np.where(hm.valid, hm.heights, np.nan) / f
    lines = [f"# dx = {hm.dx / f!r}", f"# dy = {hm.dy / f!r}", f"# unit = {unit}"]
    for row in h:
        lines.append(",".join("" if not np.isfinite(v) else repr(float(v)) for v in row))
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


READERS[".csv"] = read_text
READERS[".txt"] = read_text
READERS[".asc"] = read_text

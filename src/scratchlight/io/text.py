"""Plain-text height maps (``.csv``, ``.txt``, ``.asc``): grids and x, y, z point tables.

A grid has one line per row of the map (row i along y, in file order) and one number per
column (along x). Fields are separated by semicolons, commas or whitespace (tabs
included), whichever the data uses, in that order of preference; with semicolons a
decimal comma is accepted ('1,5;2,25'). A missing point is an empty field, ``nan``,
``na``, ``n/a`` or ``null`` (any case), or the ``nodata_value`` of an ESRI header.

Header lines (see ``text_header``) set the spacing and the units: scratchlight's own
``# dx = 2.5 um`` / ``# dy`` / ``# unit`` / ``# z_unit`` / ``# xy_unit``, Gwyddion's text
export (``# Width: 4.113 µm``, ``# Height``, ``# Value units: nm``, also translated) and
Koala's (``h=.. w=..``, ``pixel size=.. m``, ``height conversion factor (-> m)=..``).
Numbers without a unit are metres. An ESRI ASCII grid header (``ncols``, ``nrows``,
``xllcorner``/``xllcenter``, ``yll...``, ``cellsize`` or ``dx``/``dy``,
``nodata_value``; no ``#``) is understood too. Header values that disagree with the data
(row or column counts) or with each other (two spacings) are refused.

Three numeric columns without a header stating a grid are x, y, z points
(``text_points``) when there are at least 9 rows or a column-name line (``x y z``); two
columns are a line scan and refused.

When the file states no spacing, 1 um is assumed (``DEFAULT_SPACING_M``) and the map
carries a warning; so does a header line like ``key: 3 mm`` that is not understood.
UTF-8, Latin-1 and UTF-16 (with or without a byte-order mark) text is read.
"""
from __future__ import annotations

import io
import os
import re

import numpy as np

from ..errors import InputError
from ._units import metres_per, to_metres
from ..heightmap import HeightMap
from .guards import check_point_count, format_bytes, max_points
from .heightmap import READERS, check_heightmap, default_spacing_warning
from .text_header import Header, length, number, parse_header_line, unit_factor
from .text_points import parse_column_names, points_to_grid

__all__ = ["read_text", "write_text", "DEFAULT_SPACING_M"]

DEFAULT_SPACING_M = 1e-6
MAX_TEXT_BYTES_PER_POINT = 64
"""A text file may hold at most this many bytes per grid point the point limit allows
(a number, its separator and a share of the header)."""

_ESRI_KEYS = ("ncols", "nrows", "xllcorner", "yllcorner", "xllcenter", "yllcenter",
              "cellsize", "dx", "dy", "nodata_value")
_ESRI_LINE = re.compile(r"^\s*(" + "|".join(_ESRI_KEYS) + r")\s+(\S+)\s*$", re.IGNORECASE)
_MISSING_TOKENS = {"", "nan", "na", "n/a", "null", "-nan", "+nan"}
_AGREE = 1e-3
_MIN_POINTS = 9  # three columns and fewer rows cannot be x, y, z points of a 3 x 3 grid  # two statements of one spacing must agree to this relative tolerance


def _decode(path: str) -> str:
    """The file's text: UTF-16 by its byte-order mark or its zero bytes, else UTF-8, else
    Latin-1. Other binary data is refused."""
    size = os.path.getsize(path)
    limit = max_points() * MAX_TEXT_BYTES_PER_POINT + (1 << 20)
    if size > limit:
        # checked before reading: a huge file is refused by its size, not by running out
        # of memory
        raise InputError(path, f"is {format_bytes(size)}; a text grid within the point limit "
                               f"of {max_points():,} points needs at most {format_bytes(limit)} "
                               "(set SCRATCHLIGHT_MAX_POINTS to change it)")
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    head = raw[:4096]
    encoding = None
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        encoding = "utf-16"
    elif len(head) >= 4 and b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if odd.count(0) > 0.9 * len(odd) and even.count(0) == 0:
            encoding = "utf-16-le"
        elif even.count(0) > 0.9 * len(even) and odd.count(0) == 0:
            encoding = "utf-16-be"
        else:
            raise InputError(path, "not a text file (binary data)")
    if encoding:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as e:
            raise InputError(path, f"UTF-16 text that cannot be decoded ({e.reason} at byte "
                                   f"{e.start})") from None
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


def _is_number(token: str, decimal_comma: bool) -> bool:
    try:
        _parse_field(token, decimal_comma)
        return True
    except ValueError:
        return False


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


def _split_lines(path: str, text: str):
    """(header, esri, column names or None, data rows as (line number, text))."""
    header, esri, names = Header(), {}, None
    rows: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s:
            continue
        commented = s.startswith("#")
        body = s.lstrip("#").strip() if commented else s
        if not rows and not commented:
            m = _ESRI_LINE.match(s)
            if m:
                esri[m.group(1).lower()] = m.group(2)
                continue
            tokens = re.split(r"[;,\s]+", s)
            if names is None and not header.any_key and parse_column_names(tokens):
                names = parse_column_names(tokens)
                continue
        if commented or not rows:
            kind = parse_header_line(header, lineno, body, commented)
            if kind == "key" and rows:
                raise InputError(path, f"line {lineno}: a header line after the data "
                                       "(several channels, or a damaged file); only "
                                       "single-channel exports are read")
            if kind is not None or commented:
                continue
        rows.append((lineno, s))
    return header, esri, names, rows


def _parse_grid(path: str, rows: list[tuple[int, str]]) -> np.ndarray:
    sample = "\n".join(line for _, line in rows[:50])
    sep = ";" if ";" in sample else ("," if "," in sample else None)
    decimal_comma = sep == ";" and "," in sample
    if sep is not None and all(line.endswith(sep) for _, line in rows):
        rows = [(k, line[:-1]) for k, line in rows]  # a separator closing every line
    first = rows[0][1]
    width = len(first.split() if sep is None else first.split(sep))
    check_point_count(path, width, len(rows))
    grid = _fast_parse(rows, sep, decimal_comma)
    return grid if grid is not None else _parse_rows(path, rows, sep, decimal_comma)


def _agree(path: str, what: str, a: float, b: float) -> None:
    if abs(a - b) > _AGREE * max(abs(a), abs(b)):
        raise InputError(path, f"the header states two different {what}: {a:g} m and {b:g} m")


def _height_scale(path: str, header: Header, z_unit: str | None):
    """(metres per stored value, provenance) of the heights."""
    gwy_unit = header.gwy.get("value units")
    data_unit = header.koala.get("data unit")
    if gwy_unit is not None:
        ln, unit = gwy_unit
        f = metres_per(unit)
        if f is None:
            raise InputError(path, f"line {ln}: the values are in {unit!r}, not a length: "
                                   "this channel does not hold heights")
        return f, f"file header (Value units: {unit})"
    if data_unit is not None and metres_per(data_unit[1]) is not None:
        return metres_per(data_unit[1]), f"file header (data unit={data_unit[1]})"
    if header.conversion is not None:
        ln, target, factor = header.conversion
        if data_unit is not None and data_unit[1].lower() != "rad":
            raise InputError(path, f"line {data_unit[0]}: data unit {data_unit[1]!r} is "
                                   "neither a length nor a phase in rad")
        f = number(path, f"line {ln}", factor) * unit_factor(path, f"line {ln}", target)
        return f, f"file header (height conversion factor {factor} {target} per value)"
    if data_unit is not None:
        raise InputError(path, f"line {data_unit[0]}: data unit {data_unit[1]!r} is not a "
                               "length and no height conversion factor is given")
    if z_unit is not None:
        return unit_factor(path, "header z_unit/unit", z_unit), f"file header (unit {z_unit})"
    return 1.0, "default (metres)"


def _either(a: float | None, b: float | None) -> float | None:
    """``a`` unless it is absent (None), else ``b``; a stated 0 stays 0, to be refused."""
    return b if a is None else a


def _grid_spacing(path: str, header: Header, esri: dict, shape, xy_unit: str):
    """(dx, dy, provenance); (None, None, ...) when nothing states a spacing."""
    ny, nx = shape
    found: list[tuple[float, float, str]] = []
    own = header.own
    if "dx" in own or "dy" in own:
        dx = length(path, f"line {own['dx'][0]}", own["dx"][1], xy_unit) if "dx" in own else None
        dy = length(path, f"line {own['dy'][0]}", own["dy"][1], xy_unit) if "dy" in own else None
        found.append((_either(dx, dy), _either(dy, dx), "file header (dx, dy)"))
    if "width" in header.gwy or "height" in header.gwy:
        w = header.gwy.get("width")
        h = header.gwy.get("height")
        dx = length(path, f"line {w[0]}", w[1], xy_unit) / nx if w else None
        dy = length(path, f"line {h[0]}", h[1], xy_unit) / ny if h else None
        found.append((_either(dx, dy), _either(dy, dx), "file header (Width / Height of the grid)"))
    if "pixel size" in header.koala:
        ln, value = header.koala["pixel size"]
        p = length(path, f"line {ln}", value, xy_unit)
        found.append((p, p, "file header (pixel size)"))
    if "cellsize" in esri or "dx" in esri or "dy" in esri:
        cell = length(path, "cellsize", esri["cellsize"], xy_unit) if "cellsize" in esri else None
        dx = length(path, "dx", esri["dx"], xy_unit) if "dx" in esri else cell
        dy = length(path, "dy", esri["dy"], xy_unit) if "dy" in esri else cell
        found.append((_either(dx, dy), _either(dy, dx), "ESRI header (cellsize, dx, dy)"))
    if not found:
        return None, None, None
    dx, dy, where = found[0]
    for other in found[1:]:
        _agree(path, "x spacings", dx, other[0])
        _agree(path, "y spacings", dy, other[1])
    return dx, dy, where


def _check_counts(path: str, header: Header, esri: dict, shape) -> None:
    ny, nx = shape
    checks = [(esri.get("ncols"), nx, "ncols", "columns"), (esri.get("nrows"), ny, "nrows", "rows"),
              (header.koala.get("w", (0, None))[1], nx, "w", "columns"),
              (header.koala.get("h", (0, None))[1], ny, "h", "rows")]
    for value, n, key, what in checks:
        if value is None:
            continue
        if not _is_number(value, False) or float(value) != n:
            raise InputError(path, f"header says {key} {value} but the grid has {n} {what}")


def read_text(path: str) -> HeightMap:
    """Read a text grid or point table: heights (ny, nx) float64 in metres, dx/dy in metres."""
    header, esri, names, rows = _split_lines(path, _decode(path))
    if not rows:
        raise InputError(path, "no numeric rows found")
    own = header.own
    unit_all = own["unit"][1] if "unit" in own else None
    if unit_all is not None:
        unit_factor(path, "header unit", unit_all)
    z_unit = own["z_unit"][1] if "z_unit" in own else unit_all
    xy_unit = own["xy_unit"][1] if "xy_unit" in own else (unit_all or "m")
    if "xy_unit" in own:
        unit_factor(path, "header xy_unit", xy_unit)

    grid = _parse_grid(path, rows)
    z_per_value, z_where = _height_scale(path, header, z_unit)
    problems = []
    if header.not_understood:
        problems.append("header line(s) not understood, ignored: "
                        + "; ".join(header.not_understood[:3]))
    states_grid = header.states_grid() or bool(esri)
    ncols, nrows = grid.shape[1], grid.shape[0]
    # two rows of two numbers are a grid too small to use, not a profile of two points
    line_scan = ncols == 2 and nrows >= 3
    if not states_grid and (line_scan or (ncols == 3 and (names or nrows >= _MIN_POINTS))):
        if ncols == 2 or len(names[0] if names else "xyz") == 2:
            raise InputError(path, "2 columns: a line scan (x, z profile), not an areal "
                                   "height map")
        order = names[0] if names else ["x", "y", "z"]
        units = dict(zip(order, names[1])) if names else {}
        cols = {name: grid[:, k] for k, name in enumerate(order)}
        xy_f = metres_per(units.get("x") or xy_unit)
        z_f = metres_per(units["z"]) if units.get("z") else z_per_value
        if xy_f is None or z_f is None:
            raise InputError(path, f"unknown unit in the column names {names[1]}")
        if units.get("z"):
            z_where = f"column name (z in {units['z']})"
        heights, dx, dy = points_to_grid(path, cols["x"], cols["y"], cols["z"])
        return check_heightmap(to_metres(heights, z_f), dx * xy_f, dy * xy_f, source=path,
                               valid=np.isfinite(heights), warnings=problems,
                               provenance={"spacing": "file coordinates (x, y columns)",
                                           "heights": z_where})
    _check_counts(path, header, esri, grid.shape)
    valid = np.isfinite(grid)
    if "nodata_value" in esri:
        try:
            valid &= grid != float(esri["nodata_value"])
        except ValueError:
            raise InputError(path, f"nodata_value {esri['nodata_value']!r} is not a number") from None
    dx, dy, where = _grid_spacing(path, header, esri, grid.shape, xy_unit)
    if dx is None:
        dx = dy = DEFAULT_SPACING_M
        where = "default (1 um; the file states no spacing)"
        note = default_spacing_warning(DEFAULT_SPACING_M)
        if z_where.startswith("default"):
            note += "; heights taken as metres (no unit in the file)"
        problems.insert(0, note)
    heights = to_metres(grid, z_per_value)
    return check_heightmap(heights, dx, dy, source=path, valid=valid, warnings=problems,
                           provenance={"spacing": where, "heights": z_where})


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

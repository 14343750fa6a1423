"""X3P height maps (ISO 25178-72 / ISO 5436-2 XML 3D surface profile).

An X3P file is a zip archive holding ``main.xml`` (grid size, increments, data type) and
the point data, usually ``bindata/data.bin``: little-endian values with x varying fastest,
then y, so the file's row order is our row order (row i along y). Lateral increments and
heights are in metres (SI), as the standard prescribes.

What the reader accepts beyond a textbook file:
- ``main.xml`` anywhere in the archive (a top-level folder is common); macOS junk
  (``__MACOSX/``, ``._*``) and extra members (masks, thumbnails, checksums) are ignored;
- the root tag with or without the ISO 5436-2 namespace (tags are matched by local name);
- data types I (int16), L (int32), F (float32), D (float64); heights are
  ``Offset + Increment * value`` of the CZ axis (Increment defaults to 1, Offset to 0);
- missing points as NaN (float types) and/or as cleared bits of an optional
  ``ValidPointsLink`` bit array (1 bit per point, least significant bit first);
- point data inline in ``main.xml`` (``DataList``/``Datum``; an empty Datum is missing);
- a multi-layer grid (SizeZ > 1): the first layer is read.

A corrupt zip or XML, a missing data member, point data whose byte count differs from
SizeX x SizeY x SizeZ values of the declared type (a changed data type, a wrong size),
a grid above the point limit, a main.xml over ``MAX_MAIN_XML_BYTES`` or with a DTD, and
axes given per point (axis type A for x or y) raise InputError. Nothing is inflated beyond
the size the header implies, so a decompression bomb costs no memory.
"""
from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap
from .guards import check_point_count, check_unique_members, open_member, read_member_exactly
from .heightmap import READERS, check_heightmap

__all__ = ["read_x3p", "X3P_DTYPES", "MAX_MAIN_XML_BYTES"]

MAX_MAIN_XML_BYTES = 64 * 1024 * 1024
MAX_XML_ELEMENTS = 1_000_000
"""Elements main.xml may hold (an inline DataList of up to ~1000 x 1000 values): a tree of
millions of tiny elements would take gigabytes to build."""
MAX_XML_DEPTH = 32
"""Nesting depth main.xml may reach (X3P's own schema needs 5)."""
"""Largest main.xml read (inline DataList files of a million points stay far below)."""

# ISO 5436-2 data type letter -> little-endian NumPy dtype (openGPS: signed integers).
X3P_DTYPES = {"I": np.dtype("<i2"), "L": np.dtype("<i4"), "F": np.dtype("<f4"), "D": np.dtype("<f8")}

_MISSING = object()


def _local(tag: str) -> str:
    """Tag name without its '{namespace}' prefix."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(elem, *names):
    """The element reached from ``elem`` by direct children with these local names, or None."""
    for name in names:
        if elem is None:
            return None
        elem = next((c for c in elem if _local(c.tag) == name), None)
    return elem


def _text(path: str, elem, *names, default=_MISSING) -> str:
    node = _child(elem, *names)
    text = None if node is None or node.text is None else node.text.strip()
    if not text:
        if default is _MISSING:
            raise InputError(path, f"main.xml has no {'/'.join(names)}")
        return default
    return text


def _number(path: str, elem, *names, default=_MISSING, kind=float):
    text = _text(path, elem, *names, default=None)
    if text is None:
        if default is _MISSING:
            raise InputError(path, f"main.xml has no {'/'.join(names)}")
        return default
    try:
        return kind(text)
    except ValueError:
        raise InputError(path, f"main.xml: {'/'.join(names)} is not a number: {text!r}") from None


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    return "__MACOSX" in parts or parts[-1].startswith("._")


def _find_main_xml(path: str, names: list[str]) -> str:
    found = [n for n in names if posixpath.basename(n).lower() == "main.xml" and not _is_junk(n)]
    if not found:
        raise InputError(path, "not an X3P file: the archive has no main.xml")
    return min(found, key=lambda n: (n.count("/"), len(n)))


def _member(path: str, names: list[str], base: str, link: str, what: str) -> str:
    """Archive member named ``link`` relative to main.xml's folder ``base``."""
    link = link.replace("\\", "/").lstrip("/")
    want = posixpath.normpath(posixpath.join(base, link)) if base else posixpath.normpath(link)
    if want in names:
        return want
    candidates = [n for n in names if not _is_junk(n) and
                  (n == link or n.endswith("/" + link) or n.lower() == want.lower())]
    if not candidates:
        raise InputError(path, f"the {what} {link!r} named in main.xml is missing from the archive")
    return min(candidates, key=len)


def _read_main_xml(path: str, z, main: str):
    """The parsed root of ``main`` (bounded in size; DTDs and entities are refused)."""
    size = z.getinfo(main).file_size
    if size > MAX_MAIN_XML_BYTES:
        raise InputError(path, f"main.xml declares {size:,} bytes, more than the "
                               f"{MAX_MAIN_XML_BYTES:,} an X3P header needs")
    with open_member(path, z, z.getinfo(main), "main.xml") as f:
        # read(n) sizes its buffer by n: ask for the declared size, not the cap
        text = f.read(size + 1)
    if len(text) > size:
        raise InputError(path, "main.xml inflates beyond its declared size (damaged archive)")
    _check_xml_structure(path, text)
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        raise InputError(path, f"corrupt main.xml: {e}") from None


def _check_xml_structure(path: str, text: bytes) -> None:
    """Refuse a DTD or entity declaration (in any encoding the XML declares), more than
    MAX_XML_ELEMENTS elements or nesting deeper than MAX_XML_DEPTH, in one streaming pass
    that builds no tree (so the cost is linear in the size and the memory constant)."""
    parser = xml.parsers.expat.ParserCreate()
    depth = [0, 0]  # current depth, elements seen

    class _Refused(Exception):
        pass

    def doctype(*_):
        raise _Refused("main.xml contains a DTD or entity declarations, which X3P does "
                       "not use")

    def start(*_):
        depth[0] += 1
        depth[1] += 1
        if depth[0] > MAX_XML_DEPTH:
            raise _Refused(f"main.xml nests elements deeper than {MAX_XML_DEPTH} levels")
        if depth[1] > MAX_XML_ELEMENTS:
            raise _Refused(f"main.xml holds more than {MAX_XML_ELEMENTS:,} elements")

    def end(*_):
        depth[0] -= 1

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        for at in range(0, len(text), 1 << 20):
            parser.Parse(text[at:at + (1 << 20)], False)
        parser.Parse(b"", True)
    except _Refused as e:
        raise InputError(path, str(e)) from None
    except xml.parsers.expat.ExpatError as e:
        raise InputError(path, f"corrupt main.xml: {e}") from None


def _read_points(path, z, names, base, record3, n_values, n_layers, dtype, letter):
    """Raw point values (float64, length n_values: the first layer) from the binary member
    or the DataList. The binary member must hold exactly n_values x n_layers values."""
    link = _text(path, record3, "DataLink", "PointDataLink", default=None)
    if link is not None:
        member = _member(path, names, base, link, "point data file")
        need = n_values * n_layers * dtype.itemsize
        raw = read_member_exactly(path, z, member, need,
                                  f"point data ({n_values * n_layers:,} values of type "
                                  f"{letter}):")
        return np.frombuffer(raw, dtype=dtype, count=n_values).astype(np.float64)
    data_list = _child(record3, "DataList")
    if data_list is None:
        raise InputError(path, "main.xml has neither Record3/DataLink nor Record3/DataList")
    datums = [c for c in data_list if _local(c.tag) == "Datum"]
    if len(datums) != n_values * n_layers:
        raise InputError(path, f"DataList holds {len(datums)} values, the declared grid "
                               f"needs {n_values * n_layers}")
    out = np.full(n_values, np.nan)
    for k, d in enumerate(datums[:n_values]):
        text = (d.text or "").strip()
        if text:
            try:
                out[k] = float(text.split(";")[-1])  # 'x;y;z' for absolute axes, else 'z'
            except ValueError:
                raise InputError(path, f"DataList value {k} is not a number: {text!r}") from None
    return out


def _read_valid_bits(path, z, names, base, record3, n_values, n_layers):
    """The first layer's valid bits (one per point, least significant first), or None."""
    link = _text(path, record3, "DataLink", "ValidPointsLink", default=None)
    if link is None:
        return None
    member = _member(path, names, base, link, "valid-points file")
    need = (n_values * n_layers + 7) // 8
    raw = read_member_exactly(path, z, member, need, "valid-points file")
    return np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n_values].astype(bool)


def read_x3p(path: str) -> HeightMap:
    """Read an X3P file as a HeightMap: heights (ny, nx) float64 in metres, dx/dy in metres."""
    try:
        with zipfile.ZipFile(path) as z:
            check_unique_members(path, z)
            names = z.namelist()
            main = _find_main_xml(path, names)
            root = _read_main_xml(path, z, main)
            record1, record3 = _child(root, "Record1"), _child(root, "Record3")
            if record1 is None or record3 is None:
                raise InputError(path, "main.xml has no Record1 or no Record3; not an X3P file")
            feature = _text(path, record1, "FeatureType", default="SUR").upper()
            if feature != "SUR":
                raise InputError(path, f"feature type {feature!r} is not supported "
                                       "(only SUR, an areal surface)")
            axes = _child(record1, "Axes")
            for ax in ("CX", "CY"):
                kind = _text(path, axes, ax, "AxisType", default="I").upper()
                if kind != "I":
                    raise InputError(path, f"axis {ax} has type {kind!r}: coordinates given per "
                                           "point are not supported, only a regular grid (I)")
            dx = _number(path, axes, "CX", "Increment")
            dy = _number(path, axes, "CY", "Increment")
            letter = _text(path, axes, "CZ", "DataType", default="D").upper()
            if letter not in X3P_DTYPES:
                raise InputError(path, f"unknown CZ data type {letter!r} (expected I, L, F or D)")
            z_inc = _number(path, axes, "CZ", "Increment", default=1.0)
            z_off = _number(path, axes, "CZ", "Offset", default=0.0)
            nx = _number(path, record3, "MatrixDimension", "SizeX", kind=int)
            ny = _number(path, record3, "MatrixDimension", "SizeY", kind=int)
            nz = _number(path, record3, "MatrixDimension", "SizeZ", default=1, kind=int)
            if nx < 1 or ny < 1 or nz < 1:
                raise InputError(path, f"main.xml declares an empty grid ({nx} x {ny} x {nz})")
            check_point_count(path, nx, ny * nz, "grid (SizeX x SizeY x SizeZ)")
            n = nx * ny
            base = posixpath.dirname(main)
            values = _read_points(path, z, names, base, record3, n, nz, X3P_DTYPES[letter],
                                  letter)
            bits = _read_valid_bits(path, z, names, base, record3, n, nz)
    except zipfile.BadZipFile as e:
        raise InputError(path, f"not a valid X3P file (corrupt zip archive: {e})") from None
    except (zlib.error, EOFError, NotImplementedError, RuntimeError) as e:
        raise InputError(path, f"corrupt X3P archive: {e}") from None
    heights = z_off + z_inc * values
    valid = np.isfinite(heights) if bits is None else np.isfinite(heights) & bits
    provenance = {"spacing": "file header (main.xml CX/CY Increment, metres)",
                  "heights": f"file header (main.xml CZ: type {letter}, metres)"}
    return check_heightmap(heights.reshape(ny, nx), dx, dy, source=path,
                           valid=valid.reshape(ny, nx), provenance=provenance)


READERS[".x3p"] = read_x3p

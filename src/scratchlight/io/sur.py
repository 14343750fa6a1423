"""Digital Surf ``.sur`` height maps (MountainsMap surface files).

Layout (little endian), as read by gwyddion's ``surffile.c``, SurfaceTopography's ``SUR.py``
and RosettaSciIO's ``digitalsurf`` reader: a 512-byte header, then ``comment_size`` bytes
of comment and ``private_size`` bytes of private zone, then ``xres * yres`` int16 or
int32 values, x varying fastest (one line after another; line i is our row i along y).
Signature ``DSCOMPRESSED`` instead of ``DIGITAL SURF`` marks zlib-compressed point data
(a uint32 stream count, (raw size, compressed size) uint32 pairs, then the streams).

Header fields used (byte offset): special points flag (86), point size in bits (98),
zmin (100), zmax (104), points per line xres (108), lines yres (112), float32 steps
dx, dy, dz (120, 124, 128), step units for x, y, z (180, 196, 212; 16 characters each),
comment and private sizes (334, 336), float32 z offset (474).

Heights: ``value * dz + z_offset`` in the z step unit, converted to metres; spacings are
dx and dy in their step units, converted to metres. A point is missing when it holds the
non-measured marker: ``zmin - 2`` when the special-points flag is set (the MountainsMap
convention), or the smallest value of the integer type. The inversion flag is not applied.
Only the first object of a multi-object file is read.

The header is checked against the data before anything is trusted: the point count
(offset 116) must equal xres x yres, and the point data must hold exactly that many values
(uncompressed: up to the next object's header or the end of the file; compressed: the
streams must inflate to exactly that size, and nothing is inflated beyond it). A grid
above the point limit is refused before it is read.
"""
from __future__ import annotations

import os
import struct

import numpy as np

from ..errors import InputError
from ._units import to_metres
from ..heightmap import HeightMap
from .guards import check_point_count, inflate_exactly
from .heightmap import READERS, check_heightmap
from .text_header import unit_factor

__all__ = ["read_sur", "SUR_HEADER_SIZE"]

SUR_HEADER_SIZE = 512

_HEADER = struct.Struct("<12s4H30s30s5H8xH4iI3f" + "16s" * 9 + "3f3H12x7Hf10x2H128s3f34x")
_FIELDS = (
    "signature", "format", "n_objects", "version", "object_type", "object_name",
    "operator_name", "material_code", "acquisition", "range", "special_points", "absolute",
    "bits", "zmin", "zmax", "xres", "yres", "n_points", "dx", "dy", "dz",
    "x_name", "y_name", "z_name", "x_step_unit", "y_step_unit", "z_step_unit",
    "x_length_unit", "y_length_unit", "z_length_unit", "x_ratio", "y_ratio", "z_ratio",
    "imprint", "inversion", "leveling", "second", "minute", "hour", "day", "month", "year",
    "weekday", "duration", "comment_size", "private_size", "client_zone",
    "x_offset", "y_offset", "z_offset",
)
assert _HEADER.size == SUR_HEADER_SIZE and len(_FIELDS) == len(_HEADER.unpack(bytes(512)))

_SIGNATURES = (b"DIGITAL SURF", b"DSCOMPRESSED")
_DTYPES = {16: np.dtype("<i2"), 32: np.dtype("<i4")}
# Object types that do not hold heights on a grid (profiles, images, spectra, ...).
_NOT_SURFACES = {1: "profile", 3: "binary image", 4: "series of profiles",
                 7: "multilayer profile", 10: "intensity image", 12: "RGB image",
                 14: "force curve", 15: "series of force curves", 17: "contour profile",
                 18: "series of RGB images", 20: "spectrum", 21: "hyperspectral card"}


def _string(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def _unit_name(h: dict, axis: str) -> str:
    return _string(h[f"{axis}_step_unit"]) or _string(h[f"{axis}_length_unit"])


def _unit_factor(path: str, h: dict, axis: str) -> float:
    return unit_factor(path, f"the header's {axis} unit", _unit_name(h, axis))


def _decompress(path: str, blob: bytes, need: int) -> bytes:
    """Point data of a DSCOMPRESSED file: exactly ``need`` bytes, never more inflated."""
    try:
        (count,) = struct.unpack_from("<I", blob, 0)
        if 4 + 8 * count > len(blob):
            raise struct.error
        sizes = struct.unpack_from(f"<{2 * count}I", blob, 4)
    except struct.error:
        raise InputError(path, "compressed point data is truncated (stream table)") from None
    declared = sum(sizes[0::2])
    if declared != need:
        raise InputError(path, f"compressed point data declares {declared:,} bytes; the "
                               f"header's grid needs {need:,}")
    pos, streams = 4 + 8 * count, []
    for k in range(count):
        end = pos + sizes[2 * k + 1]
        if end > len(blob):
            raise InputError(path, f"compressed point data is truncated (stream {k})")
        streams.append(blob[pos:end])
        pos = end
    return inflate_exactly(path, streams, need, "compressed point data")


def _uncompressed(path: str, blob: bytes, h: dict, need: int) -> bytes:
    """Point data of an uncompressed file: exactly ``need`` bytes, followed by nothing or
    (in a multi-object file) the next object's header."""
    if len(blob) < need:
        raise InputError(path, f"point data is truncated: {len(blob):,} bytes, the "
                               f"{h['xres']} x {h['yres']} grid of int{h['bits']} needs {need:,}")
    rest = blob[need:]
    if rest and not (h["n_objects"] > 1 and rest[:12] in _SIGNATURES):
        raise InputError(path, f"point data holds {len(blob):,} bytes, but the "
                               f"{h['xres']} x {h['yres']} grid of int{h['bits']} needs "
                               f"{need:,}: the header does not describe this data")
    return blob[:need]


def _bytes_to_read(h: dict) -> int:
    """The most bytes after the 512-byte header that the declared grid can use: comment and
    private zones, the points (for compressed data their stream table and zlib's worst-case
    growth), and 12 bytes of a following object's signature."""
    if h["signature"] not in _SIGNATURES:
        return 0
    bits = h["bits"] if h["bits"] in _DTYPES else 32
    need = max(h["xres"], 0) * max(h["yres"], 0) * bits // 8
    zones = h["comment_size"] + h["private_size"]
    if h["signature"] == b"DSCOMPRESSED":
        return zones + need + need // 64 + 65536
    return zones + need + 12


def read_sur(path: str) -> HeightMap:
    """Read a Digital Surf .sur file: heights (ny, nx) float64 in metres, dx/dy in metres."""
    with open(path, "rb") as f:
        head = f.read(SUR_HEADER_SIZE)
        if len(head) < SUR_HEADER_SIZE:
            if head[:12] in _SIGNATURES:
                raise InputError(path, f"header is truncated ({len(head)} of 512 bytes)")
            raise InputError(path, "not a Digital Surf file (no 'DIGITAL SURF' signature)")
        h = dict(zip(_FIELDS, _HEADER.unpack_from(head, 0)))
        if h["signature"] in _SIGNATURES and h["xres"] > 0 and h["yres"] > 0:
            check_point_count(path, h["xres"], h["yres"])
        # Only as many bytes as the (bounded) grid can need are read, whatever the file's
        # size: a small header in front of gigabytes never loads them.
        want = _bytes_to_read(h)
        blob = head + f.read(want)
    if len(blob) < SUR_HEADER_SIZE + want and len(blob) != os.path.getsize(path):
        raise InputError(path, "the file changed while it was read")
    if h["signature"] not in _SIGNATURES:
        raise InputError(path, "not a Digital Surf file (no 'DIGITAL SURF' signature)")
    if h["object_type"] in _NOT_SURFACES:
        raise InputError(path, f"object type {h['object_type']} "
                               f"({_NOT_SURFACES[h['object_type']]}) is not a height map")
    if h["bits"] not in _DTYPES:
        raise InputError(path, f"unsupported point size of {h['bits']} bits (expected 16 or 32)")
    nx, ny = h["xres"], h["yres"]
    if nx < 1 or ny < 1:
        raise InputError(path, f"header declares an empty grid ({nx} x {ny})")
    dtype = _DTYPES[h["bits"]]
    n = nx * ny
    if h["n_points"] != n:
        raise InputError(path, f"header declares {h['n_points']:,} points but a grid of "
                               f"{nx} x {ny} = {n:,}: the header is inconsistent")
    need = n * dtype.itemsize
    start = SUR_HEADER_SIZE + h["comment_size"] + h["private_size"]
    if start > len(blob):
        raise InputError(path, f"comment and private zones ({start - SUR_HEADER_SIZE:,} bytes) "
                               "run past the end of the file")
    if h["signature"] == b"DSCOMPRESSED":
        data = _decompress(path, blob[start:], need)
    else:
        data = _uncompressed(path, blob[start:], h, need)
    raw = np.frombuffer(data, dtype=dtype, count=n)
    missing = raw == np.iinfo(dtype).min
    if h["special_points"] == 1:
        missing |= raw == h["zmin"] - 2
    if not np.isfinite(h["dz"]) or h["dz"] == 0:
        raise InputError(path, f"z step must be a finite non-zero number, got {h['dz']}")
    fz = _unit_factor(path, h, "z")
    heights = to_metres(raw.astype(np.float64) * h["dz"] + h["z_offset"], fz)
    dx = to_metres(h["dx"], _unit_factor(path, h, "x"))
    dy = to_metres(h["dy"], _unit_factor(path, h, "y"))
    provenance = {"spacing": f"file header (x/y steps in {_unit_name(h, 'x')})",
                  "heights": f"file header (z step {h['dz']:g} {_unit_name(h, 'z')})"}
    return check_heightmap(heights.reshape(ny, nx), dx, dy, source=path,
                           valid=~missing.reshape(ny, nx), provenance=provenance)


READERS[".sur"] = read_sur

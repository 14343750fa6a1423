"""TIFF height maps (``.tif``, ``.tiff``), read with ``tifffile``.

The first page must hold one channel: an integer (16/32/64-bit; 8-bit only with a
sidecar ``z_scale``) or a float image. Palette, RGB and other colour images are refused:
they are pictures, not heights. A Park Systems TIFF (private tag 50432), whose first page
is a preview while the heights sit in private tags, is read with the optional
SurfaceTopography package (or refused, naming it). Row i of the file is row i of the map
(along y), column j is along x. Before decoding, the image size is checked against the
point limit and every strip or tile against the file (``tiff_checks``): truncated files,
damaged compressed data and decompression bombs are refused without using memory.

Heights:
- float images are in metres; NaN marks a missing point;
- integer images are counts of 1 nm (``DEFAULT_INTEGER_Z_SCALE``), so a 16-bit image spans
  up to 65.5 um of relief;
- a GDAL ``GDAL_NODATA`` tag (42113) marks missing points with its value.

Spacing (metres), the first that applies:
1. a JSON sidecar (see below);
2. ImageJ metadata naming a length ``unit`` (e.g. 'micron', 'um', 'nm') together with the
   XResolution/YResolution tags (pixels per unit);
3. XResolution/YResolution with ResolutionUnit inch or centimetre (or tifffile's
   millimetre/micrometre extensions), except 72, 96 or 300 pixels per inch: the defaults
   image software writes, not a scan's spacing, ignored with a warning;
4. ``DEFAULT_SPACING_M`` = 1 um, with a warning (so is the 1 nm count of integer images
   without a sidecar ``z_scale``).

The JSON sidecar has the same name with ``.json`` instead of ``.tif``/``.tiff``
(``scan.tif`` -> ``scan.json``) and overrides what the file says. Its keys, all optional:
``dx`` and ``dy`` (metres as numbers, or strings with a unit such as "2.5 um"; ``dy``
defaults to ``dx``), ``z_scale`` (metres per stored value; default 1 for float images and
1e-9 for integer images), ``z_offset`` (metres added to every height) and ``nodata``
(the stored value that marks a missing point). Unknown keys are an error.
"""
from __future__ import annotations

import json
import lzma
import os
import struct
import zlib

import numpy as np

from ..errors import InputError
from ._units import metres_per, parse_length
from ..heightmap import HeightMap
from .guards import format_bytes
from .heightmap import READERS, check_heightmap, default_spacing_warning
from .tiff_checks import PARK_SYSTEMS_MAGIC_TAG, check_height_page, check_segments, tifffile_log

__all__ = ["read_tiff", "sidecar_path", "DEFAULT_SPACING_M", "DEFAULT_INTEGER_Z_SCALE"]

DEFAULT_SPACING_M = 1e-6
DEFAULT_INTEGER_Z_SCALE = 1e-9

_SIDECAR_KEYS = ("dx", "dy", "z_scale", "z_offset", "nodata")
# TIFF ResolutionUnit -> metres per unit (2 inch, 3 cm; 4 mm and 5 um are tifffile extensions).
_RESOLUTION_UNITS = {2: 0.0254, 3: 0.01, 4: 1e-3, 5: 1e-6}
# pixels per inch that image software writes by default (screen and print), never a scan's
_DISPLAY_DPI = (72.0, 96.0, 300.0)


MAX_SIDECAR_BYTES = 64 * 1024
"""Largest JSON sidecar read (it holds a few spacings and units)."""


def sidecar_path(path: str) -> str:
    """The JSON sidecar that belongs to a TIFF: same name, extension ``.json``."""
    return os.path.splitext(os.fspath(path))[0] + ".json"


def _read_sidecar(path: str) -> dict:
    side = sidecar_path(path)
    if not os.path.isfile(side):
        return {}
    if os.path.getsize(side) > MAX_SIDECAR_BYTES:
        raise InputError(side, f"the JSON sidecar is {format_bytes(os.path.getsize(side))}; "
                               f"a sidecar of spacings needs at most "
                               f"{format_bytes(MAX_SIDECAR_BYTES)}")
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.loads(f.read(MAX_SIDECAR_BYTES + 1))
    except (OSError, ValueError) as e:
        raise InputError(side, f"cannot read the JSON sidecar: {e}") from None
    except RecursionError:
        raise InputError(side, "the JSON sidecar nests too deeply (a sidecar is one flat "
                               "object like {\"dx\": 1e-6})") from None
    if not isinstance(meta, dict):
        raise InputError(side, "the JSON sidecar must hold an object like {\"dx\": 1e-6}")
    unknown = sorted(set(meta) - set(_SIDECAR_KEYS))
    if unknown:
        raise InputError(side, f"unknown key(s) {', '.join(map(repr, unknown))}; "
                               f"known: {', '.join(_SIDECAR_KEYS)}")
    out = {}
    for key, value in meta.items():
        if key in ("dx", "dy"):
            v = parse_length(value) if isinstance(value, str) else value
        else:
            v = value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise InputError(side, f"{key} must be a finite number, got {value!r}")
        out[key] = float(v)
    return out


def _rational(tag) -> float | None:
    if tag is None:
        return None
    value = tag.value
    try:
        num, den = value if isinstance(value, tuple) else (value, 1)
        return float(num) / float(den) if float(den) else None
    except (TypeError, ValueError):
        return None


def _imagej_unit(tf) -> float | None:
    meta = tf.imagej_metadata or {}
    unit = str(meta.get("unit", "")).replace("\\u00B5", "\u00b5").replace("\\u00b5", "\u00b5")
    return metres_per(unit)


def _spacing_from_tags(tf, page) -> tuple[float, float] | str | None:
    """(dx, dy) in metres from the resolution tags; None when they state no length; a
    warning (str) when they hold an image editor's display default instead of a spacing."""
    xres = _rational(page.tags.get("XResolution"))
    yres = _rational(page.tags.get("YResolution"))
    if not xres or not yres or xres <= 0 or yres <= 0:
        return None
    unit_tag = page.tags.get("ResolutionUnit")
    unit = int(unit_tag.value) if unit_tag is not None else 2
    if unit == 2 and xres == yres and xres in _DISPLAY_DPI:
        # 72 dpi is a 0.35 mm pixel: taken as a spacing, a 1 mm scan would become metres wide
        return (f"the resolution tags say {xres:g} dpi, an image editor's display default "
                "rather than a measured spacing: ignored")
    per_unit = _imagej_unit(tf) if unit == 1 else _RESOLUTION_UNITS.get(unit)
    if per_unit is None:
        return None
    return per_unit / xres, per_unit / yres


def _gdal_nodata(page) -> float | None:
    tag = page.tags.get(42113)
    if tag is None:
        return None
    try:
        return float(str(tag.value).strip().rstrip("\x00"))
    except ValueError:
        return None


def _decode_first_page(path: str, side: dict):
    """(pixels, spacing from tags or None, GDAL nodata or None, tifffile's log messages),
    or a HeightMap when the file is a vendor format read by SurfaceTopography."""
    import tifffile

    size = os.path.getsize(path)
    with tifffile_log() as log:
        try:
            with tifffile.TiffFile(path) as tf:
                if not tf.pages:
                    raise InputError(path, "the TIFF holds no image")
                page = tf.pages.first if hasattr(tf.pages, "first") else tf.pages[0]
                if PARK_SYSTEMS_MAGIC_TAG in page.tags:
                    return _read_vendor_tiff(path, "Park Systems")
                if not hasattr(page, "photometric"):
                    raise InputError(path, "the first page is not an image")
                check_height_page(path, page)
                if int(page.bitspersample) == 8 and "z_scale" not in side:
                    raise InputError(path, "an 8-bit grey image: a picture rather than height "
                                           "data (256 levels); to read it as heights, give "
                                           f"z_scale in the sidecar {sidecar_path(path)}")
                check_segments(path, tf.filehandle, page, size)
                data = page.asarray()
                spacing = _spacing_from_tags(tf, page)
                nodata = _gdal_nodata(page)
        except tifffile.TiffFileError as e:
            raise InputError(path, f"not a valid TIFF file ({_first_line(e)})") from None
        except InputError:
            raise
        except (ValueError, RuntimeError, zlib.error, lzma.LZMAError, EOFError, OSError,
                KeyError, IndexError, TypeError, struct.error) as e:
            raise InputError(path, f"cannot decode the TIFF image ({_first_line(e)})") from None
    return data, spacing, nodata, list(log)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _read_vendor_tiff(path: str, vendor: str) -> HeightMap:
    """A vendor TIFF whose heights sit in private tags: read by SurfaceTopography."""
    from .fields import fields_available, read_with_surfacetopography

    if not fields_available():
        raise InputError(path, f"a {vendor} TIFF: its heights sit in private tags behind a "
                               "preview image; reading them needs the optional "
                               "SurfaceTopography package (pip install SurfaceTopography)")
    return read_with_surfacetopography(path, format_hint="ps")


def read_tiff(path: str) -> HeightMap:
    """Read a single-channel TIFF: heights (ny, nx) float64 in metres, dx/dy in metres."""
    side = _read_sidecar(path)
    decoded = _decode_first_page(path, side)
    if isinstance(decoded, HeightMap):
        return decoded
    data, spacing, nodata, log = decoded
    data = np.asarray(data)
    if data.ndim == 3 and 1 in (data.shape[0], data.shape[-1]):
        data = data.reshape(data.shape[1:] if data.shape[0] == 1 else data.shape[:-1])
    if data.ndim != 2:
        raise InputError(path, f"expected a single-channel height image, got shape {data.shape}")
    if data.dtype.kind not in "uif":
        raise InputError(path, f"unsupported pixel type {data.dtype} (expected integer or float)")
    integer = data.dtype.kind in "ui"
    nodata = side.get("nodata", nodata)
    missing = np.zeros(data.shape, bool) if nodata is None else (data == nodata)
    problems = [f"tifffile reported: {log[0]}"] if log else []
    if isinstance(spacing, str):
        problems.append(spacing)
        spacing = None
    side_name = os.path.basename(sidecar_path(path))
    if "z_scale" in side:
        z_scale, z_where = side["z_scale"], f"sidecar {side_name} (z_scale)"
    elif integer:
        z_scale, z_where = DEFAULT_INTEGER_Z_SCALE, "default (integer counts of 1 nm)"
        problems.append("integer pixels with no z_scale: taken as counts of 1 nm (give "
                        f"z_scale in the sidecar {side_name})")
    else:
        z_scale, z_where = 1.0, "file format (float pixels: metres)"
    heights = data.astype(np.float64) * z_scale + side.get("z_offset", 0.0)
    if spacing:
        (dx, dy), where = spacing, "file header (TIFF resolution tags)"
    else:
        dx = dy = DEFAULT_SPACING_M
        where = "default (1 um; the file states no spacing)"
    if "dx" in side:
        dx, where = side["dx"], f"sidecar {side_name}"
        dy = side.get("dy", dx)
    elif "dy" in side:
        dy, where = side["dy"], f"sidecar {side_name}"
    if where.startswith("default"):
        problems.insert(0, default_spacing_warning(DEFAULT_SPACING_M))
    return check_heightmap(heights, dx, dy, source=path, valid=~missing, warnings=problems,
                           provenance={"spacing": where, "heights": z_where})


READERS[".tif"] = read_tiff
READERS[".tiff"] = read_tiff

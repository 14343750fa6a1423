"""TIFF height maps (``.tif``, ``.tiff``), read with ``tifffile``.

The first page must hold one channel: an integer (8/16/32/64-bit) or a float image.
Row i of the file is row i of the map (along y), column j is along x.

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
   millimetre/micrometre extensions);
4. ``DEFAULT_SPACING_M`` = 1 um.

The JSON sidecar has the same name with ``.json`` instead of ``.tif``/``.tiff``
(``scan.tif`` -> ``scan.json``) and overrides what the file says. Its keys, all optional:
``dx`` and ``dy`` (metres as numbers, or strings with a unit such as "2.5 um"; ``dy``
defaults to ``dx``), ``z_scale`` (metres per stored value; default 1 for float images and
1e-9 for integer images), ``z_offset`` (metres added to every height) and ``nodata``
(the stored value that marks a missing point). Unknown keys are an error.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..errors import InputError
from ._units import metres_per, parse_length
from ..heightmap import HeightMap
from .heightmap import READERS, check_heightmap

__all__ = ["read_tiff", "sidecar_path", "DEFAULT_SPACING_M", "DEFAULT_INTEGER_Z_SCALE"]

DEFAULT_SPACING_M = 1e-6
DEFAULT_INTEGER_Z_SCALE = 1e-9

_SIDECAR_KEYS = ("dx", "dy", "z_scale", "z_offset", "nodata")
# TIFF ResolutionUnit -> metres per unit (2 inch, 3 cm; 4 mm and 5 um are tifffile extensions).
_RESOLUTION_UNITS = {2: 0.0254, 3: 0.01, 4: 1e-3, 5: 1e-6}


def sidecar_path(path: str) -> str:
    """The JSON sidecar that belongs to a TIFF: same name, extension ``.json``."""
    return os.path.splitext(os.fspath(path))[0] + ".json"


def _read_sidecar(path: str) -> dict:
    side = sidecar_path(path)
    if not os.path.isfile(side):
        return {}
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(side, f"cannot read the JSON sidecar: {e}") from None
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


def _spacing_from_tags(tf, page) -> tuple[float, float] | None:
    xres = _rational(page.tags.get("XResolution"))
    yres = _rational(page.tags.get("YResolution"))
    if not xres or not yres or xres <= 0 or yres <= 0:
        return None
    unit_tag = page.tags.get("ResolutionUnit")
    unit = int(unit_tag.value) if unit_tag is not None else 2
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


def read_tiff(path: str) -> HeightMap:
    """Read a single-channel TIFF: heights (ny, nx) float64 in metres, dx/dy in metres."""
    import tifffile

    side = _read_sidecar(path)
    try:
        with tifffile.TiffFile(path) as tf:
            if not tf.pages:
                raise InputError(path, "the TIFF holds no image")
            page = tf.pages.first if hasattr(tf.pages, "first") else tf.pages[0]
            data = page.asarray()
            spacing = _spacing_from_tags(tf, page)
            nodata = _gdal_nodata(page)
    except tifffile.TiffFileError as e:
        raise InputError(path, f"not a valid TIFF file ({e})") from None
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
    z_scale = side.get("z_scale", DEFAULT_INTEGER_Z_SCALE if integer else 1.0)
    heights = data.astype(np.float64) * z_scale + side.get("z_offset", 0.0)
    dx, dy = spacing if spacing else (DEFAULT_SPACING_M, DEFAULT_SPACING_M)
    if "dx" in side:
        dx = side["dx"]
        dy = side.get("dy", dx)
    elif "dy" in side:
        dy = side["dy"]
    return check_heightmap(heights, dx, dy, source=path, valid=~missing)


READERS[".tif"] = read_tiff
READERS[".tiff"] = read_tiff

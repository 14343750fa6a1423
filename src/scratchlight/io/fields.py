"""More instrument formats through the optional SurfaceTopography package.

When SurfaceTopography (https://github.com/ContactEngineering/SurfaceTopography, MIT) is
installed (``pip install SurfaceTopography``), the extensions in ``FIELDS_EXTENSIONS``
that scratchlight does not read itself (Sensofar .plu/.plux, Zygo .datx/.opd, Keyence
.vk4/.vk6, Gwyddion .gwy, Olympus .lext/.oir, Bruker .spm, Alicona .al3d, ...) are read
with it. Its lateral sizes and heights are converted from the unit the file names to
metres; points it masks as undefined are missing. A file that does not state its lateral
size or height unit is refused (InputError). The package is imported only when such a file
is read; without it those extensions raise an InputError that names the package.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

from ..errors import InputError
from ._units import metres_per, to_metres
from ..heightmap import HeightMap
from .guards import check_point_count
from .heightmap import check_heightmap

__all__ = ["FIELDS_EXTENSIONS", "fields_available", "read_with_surfacetopography",
           "register_fields_readers"]

# SurfaceTopography 1.27 formats that have no native reader here.
FIELDS_EXTENSIONS = tuple("." + e for e in (
    "001", "002", "003", "004", "005", "al3d", "apx", "bcr", "bcrf", "cur", "datx", "ezd",
    "frt", "gwy", "hfm", "hgt", "ibw", "jpk", "lext", "mdt", "mi", "mnt", "nc", "nid", "nms",
    "oir", "opd", "opdx", "os3d", "plu", "plux", "poir", "qep", "sdf", "spm", "stp", "tmd",
    "tom", "top", "vk3", "vk4", "vk6", "vk7", "xyz", "zmg", "zon"))


def fields_available() -> bool:
    """True when SurfaceTopography can be imported (checked without importing it)."""
    return importlib.util.find_spec("SurfaceTopography") is not None


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _open(st, path: str, format_hint: str | None = None):
    """SurfaceTopography's reader for ``path``: ``format_hint`` or the formats of its
    extension first (for a precise error), then detection by content."""
    from SurfaceTopography.IO import readers

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    formats = [format_hint] if format_hint else [
        r._format for r in readers
        if ext in (e.lower() for e in getattr(r, "_file_extensions", ()))]
    errors = []
    for fmt in formats:
        try:
            return st.open_topography(path, format=fmt)
        except Exception as e:  # noqa: PERF203  (each format gets its chance)
            errors.append(e)
    if errors:
        raise InputError(path, f"not a valid .{ext} file ({_first_line(errors[0])})")
    try:
        return st.open_topography(path)
    except Exception:
        raise InputError(path, "SurfaceTopography recognises no height-map format in it") from None


def read_with_surfacetopography(path: str | os.PathLike, format_hint: str | None = None) -> HeightMap:
    """Read any areal topography SurfaceTopography understands: heights (ny, nx) float64 in
    metres, dx/dy in metres. Its default channel is read; ``format_hint`` names its
    format (e.g. 'ps') when the extension is ambiguous."""
    path = os.fspath(path)
    try:
        import SurfaceTopography as st
    except ImportError:
        raise InputError(path, "reading this format needs the optional SurfaceTopography "
                               "package (pip install SurfaceTopography)") from None
    try:
        reader = _open(st, path, format_hint)
        channel = reader.default_channel
        if channel.dim != 2:
            raise InputError(path, "holds a line scan, not an areal height map")
        if channel.physical_sizes is None:
            raise InputError(path, "the file does not state its lateral size")
        nx, ny = channel.nb_grid_pts
        check_point_count(path, nx, ny)
        topo = reader.topography(channel_index=channel.index)
    except InputError:
        raise
    except Exception as e:  # SurfaceTopography's own exception types for corrupt files
        raise InputError(path, f"cannot read it with SurfaceTopography: {_first_line(e)}") from None
    factor = metres_per(topo.unit or "")
    if factor is None:
        raise InputError(path, f"unknown or missing length unit {topo.unit!r}")
    heights = topo.heights()  # (nx, ny): SurfaceTopography indexes x first
    valid = ~np.ma.getmaskarray(heights)
    h = np.ma.filled(np.ma.asarray(heights, dtype=np.float64), np.nan)
    nx, ny = h.shape
    sx, sy = topo.physical_sizes
    dx = to_metres(float(sx) / nx, factor)  # its size is points x spacing
    dy = to_metres(float(sy) / ny, factor)
    where = f"file header (read by SurfaceTopography {st.__version__}, unit {topo.unit})"
    return check_heightmap(to_metres(h.T, factor), dx, dy, source=path, valid=valid.T,
                           provenance={"spacing": where, "heights": where})


def register_fields_readers(readers: dict) -> None:
    """Add ``read_with_surfacetopography`` for ``FIELDS_EXTENSIONS`` not read natively."""
    for ext in FIELDS_EXTENSIONS:
        readers.setdefault(ext, read_with_surfacetopography)

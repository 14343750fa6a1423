"""NumPy height maps: ``.npy`` (heights only) and ``.npz`` (heights, spacing, masks).

An ``.npy`` holds heights (ny, nx) in metres; the format has no place for a spacing, so
1 um is assumed (``DEFAULT_SPACING_M``) and a warning says so. An ``.npz`` holds
``heights`` (ny, nx) in metres and optional scalars ``dx``, ``dy`` (metres), plus optional
``valid`` and ``truth`` boolean masks. This is also the format written by
``scratchlight synth``.

Arrays are read from their header first: the shape is checked against the point limit
and the byte count against the file (or archive member) before anything is allocated.
Only numbers are accepted (integer, unsigned, float; bool for the masks): object arrays
(pickles), structured, complex and string arrays are refused.
"""
from __future__ import annotations

import os
import zipfile
import zlib

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap
from .guards import check_point_count, check_unique_members, open_member
from .heightmap import READERS, check_heightmap, default_spacing_warning

__all__ = ["read_npy", "read_npz", "write_npz", "DEFAULT_SPACING_M"]

DEFAULT_SPACING_M = 1e-6

_NPZ_MEMBERS = ("heights", "dx", "dy", "valid", "truth")


def _read_header(path: str, f, what: str):
    """(shape, fortran_order, dtype) from the header of an .npy stream ``f``."""
    from numpy.lib import format as npformat

    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = npformat.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = npformat.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, EOFError, SyntaxError, TypeError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, f"{what}: not a valid .npy header ({message})") from None
    if dtype.hasobject:
        raise InputError(path, f"{what} holds Python objects, not numbers")
    if dtype.names is not None or dtype.subdtype is not None:
        raise InputError(path, f"{what} has the structured type {dtype}, not plain numbers")
    if dtype.kind not in "biuf":
        raise InputError(path, f"{what} has the type {dtype}, not real numbers")
    if any(int(n) < 0 for n in shape):
        raise InputError(path, f"{what} has a negative size in its shape {shape}")
    return tuple(int(n) for n in shape), fortran, dtype


def _read_array(path: str, f, what: str, available: int, grid: bool):
    """The array of the .npy stream ``f`` that holds ``available`` bytes in all.

    ``grid``: the array must be a 2-D grid within the point limit; otherwise a scalar or
    a small array (masks are checked against the heights later).
    """
    start = f.tell()
    shape, fortran, dtype = _read_header(path, f, what)
    header = f.tell() - start
    if grid or len(shape) == 2:
        if len(shape) != 2:
            raise InputError(path, f"{what} must be 2-D (ny, nx), got shape {shape}")
        check_point_count(path, shape[1], shape[0])
    count = 1
    for n in shape:
        count *= n
    if len(shape) != 2 and count > 16:
        raise InputError(path, f"{what} must be a number or a 2-D grid, got shape {shape}")
    need = count * dtype.itemsize
    if available - header != need:
        raise InputError(path, f"{what}: the header declares {shape} of {dtype} = {need:,} "
                               f"bytes, the file holds {available - header:,}")
    raw = f.read(need)
    if len(raw) != need:
        raise InputError(path, f"{what} is truncated: {len(raw):,} of {need:,} bytes")
    a = np.frombuffer(raw, dtype=dtype, count=count)
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)


def read_npy(path: str) -> HeightMap:
    """Read a .npy array of heights in metres (spacing 1 um, with a warning)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        h = _read_array(path, f, "the array", size, grid=True)
    return check_heightmap(h, DEFAULT_SPACING_M, DEFAULT_SPACING_M, source=path,
                           provenance={"spacing": "default (1 um; .npy has no spacing)",
                                       "heights": "file format (.npy: metres)"},
                           warnings=[default_spacing_warning(DEFAULT_SPACING_M)])


def _spacing(path: str, value: np.ndarray, name: str) -> float:
    if value.size != 1:
        raise InputError(path, f"'{name}' must be one number, got shape {value.shape}")
    if value.dtype.kind == "b":
        raise InputError(path, f"'{name}' must be a number, got a bool")
    return float(value.reshape(()))


def read_npz(path: str) -> HeightMap:
    """Read an .npz archive: ``heights`` in metres, ``dx``/``dy`` in metres, masks."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as z:
            check_unique_members(path, z)
            members = {n[:-4] if n.endswith(".npy") else n: n for n in z.namelist()}
            if len(members) != len(z.namelist()):
                raise InputError(path, "the archive holds an array both with and without "
                                       "'.npy'; which one is meant is ambiguous")
            if "heights" not in members:
                raise InputError(path, f"no 'heights' array (has: {', '.join(members) or 'nothing'})")
            for name in _NPZ_MEMBERS:
                if name in members:
                    info = z.getinfo(members[name])
                    with open_member(path, z, info, "member") as f:
                        arrays[name] = _read_array(path, f, f"'{name}'", info.file_size,
                                                   grid=name == "heights")
    except zipfile.BadZipFile as e:
        raise InputError(path, f"not a valid .npz file (corrupt zip archive: {e})") from None
    except (zlib.error, EOFError, NotImplementedError) as e:
        raise InputError(path, f"corrupt .npz archive: {e}") from None
    h = arrays["heights"]
    for name in ("valid", "truth"):
        if name in arrays and arrays[name].shape != h.shape:
            raise InputError(path, f"'{name}' has shape {arrays[name].shape}, the heights "
                                   f"{h.shape}")
    problems, provenance = [], {"heights": "file format (.npz: metres)"}
    if "dx" in arrays:
        dx = _spacing(path, arrays["dx"], "dx")
        dy = _spacing(path, arrays["dy"], "dy") if "dy" in arrays else dx
        provenance["spacing"] = "file (dx, dy arrays)"
    elif "dy" in arrays:
        dx = dy = _spacing(path, arrays["dy"], "dy")
        provenance["spacing"] = "file (dy array)"
    else:
        dx = dy = DEFAULT_SPACING_M
        provenance["spacing"] = "default (1 um; no dx in the archive)"
        problems.append(default_spacing_warning(DEFAULT_SPACING_M))
    return check_heightmap(h, dx, dy, source=path, valid=arrays.get("valid"),
                           truth=arrays.get("truth"), provenance=provenance, warnings=problems)


def write_npz(path: str, hm: HeightMap, **extra) -> None:
    """Write ``hm`` as .npz (atomically: temporary file, then rename)."""
    from .atomic import atomic_path

    arrays = dict(heights=hm.heights, dx=hm.dx, dy=hm.dy, valid=hm.valid)
    if hm.truth is not None:
        arrays["truth"] = hm.truth
    arrays.update(extra)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


READERS[".npy"] = read_npy
READERS[".npz"] = read_npz

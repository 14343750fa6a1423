"""NumPy height maps: ``.npy`` (heights only, spacing 1 um assumed unless given) and ``.npz``.

An ``.npz`` holds ``heights`` (ny, nx) in metres and optional scalars ``dx``, ``dy``
(metres), plus optional ``valid`` and ``truth`` boolean masks. This is also the format
written by ``scratchlight synth``.
"""
from __future__ import annotations

import zipfile

import numpy as np

from ..errors import InputError
from ..heightmap import HeightMap
from .heightmap import READERS, check_heightmap

__all__ = ["read_npy", "read_npz", "write_npz", "DEFAULT_SPACING_M"]

DEFAULT_SPACING_M = 1e-6


def read_npy(path: str) -> HeightMap:
    try:
        h = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise InputError(path, f"not a valid .npy file ({e})") from None
    return check_heightmap(h, DEFAULT_SPACING_M, DEFAULT_SPACING_M, source=path)


def read_npz(path: str) -> HeightMap:
    try:
        with np.load(path, allow_pickle=False) as z:
            if "heights" not in z.files:
                raise InputError(path, f"no 'heights' array (has: {', '.join(z.files) or 'nothing'})")
            h = z["heights"]
            dx = float(z["dx"]) if "dx" in z.files else DEFAULT_SPACING_M
            dy = float(z["dy"]) if "dy" in z.files else dx
            valid = z["valid"] if "valid" in z.files else None
            truth = z["truth"] if "truth" in z.files else None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise InputError(path, f"not a valid .npz file ({e})") from None
    return check_heightmap(h, dx, dy, source=path, valid=valid, truth=truth)


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

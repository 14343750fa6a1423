"""The lat-long environment-map emitter and the layout of its parameter.

Row 0 of an environment map is the zenith above the surface (+z), row H-1 the nadir; the
columns run over azimuth. Mitsuba's ``envmap`` is +y-up in its own frame, so it is rotated
by +90 degrees about x. In Mitsuba 3.9 the emitter stores the map with two wrap-around
columns, data[:, 0] = E[:, W-1] and data[:, W+1] = E[:, 0] (measured), shape (H, W+2, 3).
"""
from __future__ import annotations

import numpy as np

__all__ = ["DEFAULT_ENVMAP_SHAPE", "as_envmap", "envmap_dict", "constant_envmap", "halo_indices", "expand_envmap",
           "direction_to_texel"]

DEFAULT_ENVMAP_SHAPE = (25, 50)


def as_envmap(E: np.ndarray) -> np.ndarray:
    """An envmap as float32 (H, W, C) with C = 1 or 3; a 2-D (H, W) map gets C = 1."""
    E = np.asarray(E, np.float32)
    if E.ndim == 2:
        E = E[..., None]
    if E.ndim != 3 or E.shape[2] not in (1, 3):
        raise ValueError(f"envmap must have shape (H, W), (H, W, 1) or (H, W, 3), got {E.shape}")
    return E


def constant_envmap(value: float = 0.5, shape: tuple[int, int] = DEFAULT_ENVMAP_SHAPE,
                    channels: int = 1) -> np.ndarray:
    """An (H, W, channels) float32 map filled with ``value``."""
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"constant light must be a finite value >= 0, got {value}")
    return np.full((shape[0], shape[1], channels), value, np.float32)


def expand_envmap(E: np.ndarray) -> np.ndarray:
    """(H, W, 1|3) map -> (H, W+2, 3) emitter data with the wrap-around columns."""
    E = as_envmap(E)
    rgb = np.repeat(E, 3, axis=2) if E.shape[2] == 1 else E
    return np.concatenate([rgb[:, -1:], rgb, rgb[:, :1]], axis=1)


def halo_indices(H: int, W: int, C: int) -> np.ndarray:
    """Flat indices into a C-channel (H, W, C) map that build the (H, W+2, 3) emitter data."""
    cols = np.concatenate([[W - 1], np.arange(W), [0]])
    ch = np.arange(3) if C == 3 else np.zeros(3, int)
    idx = (np.arange(H)[:, None, None] * W + cols[None, :, None]) * C + ch[None, None, :]
    return idx.astype(np.uint32).ravel()


def envmap_dict(E: np.ndarray) -> dict:
    """Mitsuba dict of the environment emitter with map ``E`` (H, W, 1|3), linear radiance."""
    import mitsuba as mi

    E = as_envmap(E)
    rgb = np.ascontiguousarray(np.repeat(E, 3, axis=2) if E.shape[2] == 1 else E)
    return {
        "type": "envmap",
        "id": "envmap",
        "bitmap": mi.Bitmap(rgb, pixel_format=mi.Bitmap.PixelFormat.RGB),
        "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], 90.0),
    }


def direction_to_texel(directions: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest envmap texel (row, column) for world directions (N, 3), unit vectors.

    Mitsuba's lookup in the emitter frame is u = atan2(d.x, -d.z) / 2 pi (wrapped to [0, 1)),
    v = acos(d.y) / pi, with texel centres at u = (c + 0.5) / W and v = r / (H - 1). Our
    emitter frame has local (x, y, z) = world (x, z, -y), so u = atan2(x, y) / 2 pi and
    v = acos(z) / pi in world coordinates.
    """
    H, W = shape
    d = np.asarray(directions, np.float64)
    u = np.mod(np.arctan2(d[:, 0], d[:, 1]) / (2 * np.pi), 1.0)
    v = np.arccos(np.clip(d[:, 2], -1.0, 1.0)) / np.pi
    col = np.floor(u * W).astype(np.int64) % W
    row = np.clip(np.rint(v * (H - 1)).astype(np.int64), 0, H - 1)
    return row, col

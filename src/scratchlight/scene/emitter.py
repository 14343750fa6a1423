"""The Mitsuba environment emitter of a lat-long map.

The conventions of the map itself (rows, columns, channels, the emitter frame, Mitsuba's
halo columns and lookup) are those of ``scene.envmap``.
"""
from __future__ import annotations

import numpy as np

from .envmap import EMITTER_ROTATION_AXIS, EMITTER_ROTATION_DEG, envmap_rgb

__all__ = ["envmap_dict"]


def envmap_dict(E: np.ndarray) -> dict:
    """Mitsuba dict of the environment emitter with map ``E`` (H, W, 1|3), linear radiance."""
    import mitsuba as mi

    rgb = np.ascontiguousarray(envmap_rgb(E))
    return {
        "type": "envmap",
        "id": "envmap",
        "bitmap": mi.Bitmap(rgb, pixel_format=mi.Bitmap.PixelFormat.RGB),
        "to_world": mi.ScalarTransform4f().rotate(list(EMITTER_ROTATION_AXIS),
                                                  EMITTER_ROTATION_DEG),
    }

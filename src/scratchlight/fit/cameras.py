"""The camera grammar of a fit: one short string per view -> ``scene.CameraSpec``.

    oblique[:AZIMUTH[:ELEVATION]]   perspective, looking at the centre from AZIMUTH degrees
                                    (default 0) and ELEVATION degrees in (0, 90] (default 45)
    top                             orthographic, straight down
    custom:X,Y,Z                    perspective from (X, Y, Z) in scene units (the surface's
                                    longer side spans -1..1) towards the centre

Every view shares the horizontal field of view ``fov`` (degrees). Mistakes raise
``InputError`` naming the config field ``cameras``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError

__all__ = ["parse_camera", "parse_cameras"]

_FIELD = "cameras"


def _parse_origin(text: str) -> tuple[float, float, float]:
    """'X,Y,Z' -> three finite floats."""
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(_FIELD, f"expected 3 comma-separated numbers, got {text!r}") from None
    if len(vals) != 3 or not all(np.isfinite(vals)):
        raise InputError(_FIELD, f"expected 3 finite comma-separated numbers, got {text!r}")
    return vals


def parse_camera(text: str, fov: float):
    """One camera string (see the module docstring) -> ``CameraSpec`` with ``fov_deg=fov``."""
    from ..scene import CameraSpec

    kind, _, rest = text.partition(":")
    if kind == "top" and not rest:
        return CameraSpec(preset="top", fov_deg=fov)
    if kind == "oblique":
        parts = [v for v in rest.split(":") if v] if rest else []
        try:
            nums = [float(v) for v in parts]
        except ValueError:
            raise InputError(_FIELD,
                             f"expected oblique[:AZIMUTH[:ELEVATION]], got {text!r}") from None
        if len(nums) > 2 or not all(np.isfinite(nums)):
            raise InputError(_FIELD, f"expected oblique[:AZIMUTH[:ELEVATION]], got {text!r}")
        az = nums[0] if nums else 0.0
        el = nums[1] if len(nums) > 1 else 45.0
        if not 0.0 < el <= 90.0:
            raise InputError(_FIELD, f"elevation must be in (0, 90] degrees, got {el}")
        return CameraSpec(preset="oblique", azimuth_deg=az, elevation_deg=el, fov_deg=fov)
    if kind == "custom":
        return CameraSpec(preset="custom", origin=_parse_origin(rest), fov_deg=fov)
    raise InputError(_FIELD, f"expected oblique[:AZ[:EL]], top or custom:X,Y,Z, got {text!r}")


def parse_cameras(texts: Sequence[str], fov: float, n_views: int) -> list:
    """The ``n_views`` cameras of a fit: one string for every view, or one per view.

    Returns a list of ``n_views`` ``CameraSpec``.
    """
    if len(texts) not in (1, n_views):
        raise InputError(_FIELD, f"give one camera or one per target ({n_views}), got {len(texts)}")
    cams = [parse_camera(t, fov) for t in texts]
    return cams * n_views if len(cams) == 1 else cams

"""Camera presets framing a height-map surface (scene units: longer side spans [-1, 1]).

- ``oblique`` (default): perspective, 45 degrees elevation, looking along +y at the centre,
  at the distance where the surface's corners just fit the field of view (5 % margin).
- ``top``: orthographic, looking straight down (-z), image up = +y.
- custom: any origin/target in scene units and a field of view in degrees.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..options import option

__all__ = ["CameraSpec", "CAMERA_PRESETS", "camera_to_world", "sensor_dict"]

CAMERA_PRESETS = ("oblique", "top", "custom")


@dataclasses.dataclass(frozen=True)
class CameraSpec:
    """Where the camera is. ``origin``/``target`` in scene units, ``fov_deg`` horizontal."""

    preset: str = option("oblique", "oblique (45 degrees), top (orthographic) or custom",
                         name="camera", choices=CAMERA_PRESETS)
    elevation_deg: float = option(45.0, "oblique camera elevation, degrees", name="elevation",
                                  lo=-90.0, hi=90.0)
    azimuth_deg: float = option(0.0, "oblique camera azimuth, degrees", name="azimuth",
                                lo=-360.0, hi=360.0)
    fov_deg: float = option(30.0, "horizontal field of view, degrees", name="fov",
                            lo=1.0, hi=170.0)
    origin: tuple[float, float, float] | None = option(
        None, "custom camera position in scene units (the surface's longer side spans -1..1)",
        name="camera_origin", metavar="X,Y,Z")
    target: tuple[float, float, float] = option(
        (0.0, 0.0, 0.0), "custom camera target in scene units", name="camera_target",
        metavar="X,Y,Z")


def _look_at(origin, target, up):
    f = np.asarray(target, float) - np.asarray(origin, float)
    f /= np.linalg.norm(f)
    left = np.cross(up, f)
    left /= np.linalg.norm(left)
    new_up = np.cross(f, left)
    return f, left, new_up


def _fit_distance(direction, half_w, half_h, half_z, fov_deg, aspect, margin=1.05):
    """Smallest distance along ``direction`` (unit vector from target to camera) at which the
    eight corners of the surface's bounding box lie inside the perspective frustum."""
    corners = np.array([[sx * half_w, sy * half_h, sz * half_z]
                        for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])
    tan_x = math.tan(math.radians(fov_deg) / 2)
    tan_y = tan_x / aspect

    def fits(d):
        origin = direction * d
        f, left, up = _look_at(origin, (0, 0, 0), (0, 0, 1))
        rel = corners - origin
        depth = rel @ f
        if (depth <= 0).any():
            return False
        return (np.abs(rel @ left) / depth <= tan_x / margin).all() and \
               (np.abs(rel @ up) / depth <= tan_y / margin).all()

    lo, hi = 1e-3, 1e3
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        lo, hi = (lo, mid) if fits(mid) else (mid, hi)
    return hi


def camera_to_world(spec: CameraSpec, half_w: float, half_h: float, half_z: float,
                    aspect: float = 1.0):
    """(kind, origin, target, up, fov_deg or ortho half-extent) for a camera spec."""
    if spec.preset not in CAMERA_PRESETS:
        raise ValueError(f"unknown camera {spec.preset!r}; choose from {', '.join(CAMERA_PRESETS)}")
    if spec.preset == "top":
        extent = max(half_w, half_h * aspect) * 1.02
        return "orthographic", (0.0, 0.0, 2.0 + half_z), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0), extent
    if spec.preset == "custom":
        if spec.origin is None:
            raise ValueError("a custom camera needs an origin")
        return "perspective", tuple(spec.origin), tuple(spec.target), (0.0, 0.0, 1.0), spec.fov_deg
    el, az = math.radians(spec.elevation_deg), math.radians(spec.azimuth_deg)
    direction = np.array([math.sin(az) * math.cos(el), -math.cos(az) * math.cos(el), math.sin(el)])
    d = _fit_distance(direction, half_w, half_h, half_z, spec.fov_deg, aspect)
    return "perspective", tuple(direction * d), (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), spec.fov_deg


def sensor_dict(spec: CameraSpec, half_w: float, half_h: float, half_z: float,
                width: int, height: int, spp: int, sampler: str = "independent") -> dict:
    """Mitsuba sensor dict with Mitsuba's ``sampler`` ('independent', or 'ldsampler' for
    the judging renders). The box pixel filter keeps every sample inside its own pixel,
    which the transport engine and the pixel-subset sampler rely on."""
    import mitsuba as mi

    kind, origin, target, up, p = camera_to_world(spec, half_w, half_h, half_z, width / height)
    to_world = mi.ScalarTransform4f().look_at(origin=list(origin), target=list(target), up=list(up))
    d = {
        "type": kind,
        "film": {"type": "hdrfilm", "width": int(width), "height": int(height),
                 "rfilter": {"type": "box"}, "pixel_format": "rgb"},
        "sampler": {"type": sampler, "sample_count": int(spp)},
    }
    if kind == "orthographic":
        d["to_world"] = to_world @ mi.ScalarTransform4f().scale([p, p, 1.0])
    else:
        d["to_world"] = to_world
        d["fov"] = float(p)
        d["fov_axis"] = "x"
    return d

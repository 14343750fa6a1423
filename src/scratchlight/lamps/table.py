"""What to set up in the booth: the lamps (or channels) as a table, angles in degrees
relative to the part's axes and to the camera.

Part frame (``geometry``): x along the height map's columns, y along its rows, z up.
Elevation is measured from the part's plane (90 = overhead), azimuth in the plane from +x
towards +y. Relative to the camera: ``azimuth_from_camera_deg`` is the lamp's azimuth minus
the camera's (0 = the lamp stands on the camera's side of the part, 180 = facing the
camera), ``angle_to_camera_deg`` the angle between the lamp's and the camera's directions
seen from the part's centre, and ``angle_to_mirror_deg`` the angle from the camera's mirror
direction (where a flat mirror would show the lamp to the camera: 0 is bright-field, large
angles dark-field lighting).
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

from ..io.atomic import atomic_path, write_json
from .geometry import Lamp, angles_of, direction

__all__ = ["camera_info", "lamp_rows", "channel_rows", "write_table", "FRAME_NOTE"]

FRAME_NOTE = ("Angles in degrees. Part frame: x along the height map's columns (increasing "
              "column index), y along its rows (increasing row index), z up out of the "
              "surface; elevation from the part's plane (90 = overhead), azimuth in the plane "
              "counter-clockwise from +x towards +y. azimuth_from_camera_deg = lamp azimuth "
              "minus camera azimuth (0: lamp on the camera's side, 180: facing the camera). "
              "Intensities: irradiance at the part in envmap units (radiance x solid angle); "
              "relative_intensity is relative to the strongest lamp.")


def camera_info(scene) -> dict:
    """The scene's camera in the part frame: position, view direction, field of view."""
    sensor = scene.mitsuba_scene.sensors()[0]
    m = np.array(sensor.world_transform().matrix, np.float64).reshape(4, 4, -1)[..., 0]
    origin = m[:3, 3]
    forward = m[:3, 2] / np.linalg.norm(m[:3, 2])
    up = m[:3, 1] / np.linalg.norm(m[:3, 1])
    spec = scene.spec
    ortho = spec.camera.preset == "top"
    if ortho:
        to_part = -forward
    else:
        to_part = origin / max(np.linalg.norm(origin), 1e-12)  # the part's centre is the origin
    theta, alpha = angles_of(to_part)
    return {
        "kind": "orthographic" if ortho else "perspective",
        "to_world": m.tolist(),
        "origin": origin.tolist(), "forward": forward.tolist(), "up": up.tolist(),
        "fov_deg": None if ortho else float(spec.camera.fov_deg),
        "ortho_half_width": float(np.linalg.norm(m[:3, 0])) if ortho else None,
        "width": int(spec.width), "height": int(spec.height),
        "elevation_deg": 90.0 - math.degrees(float(theta)),
        "azimuth_deg": math.degrees(float(alpha)) % 360.0,
        "direction": to_part.tolist(),
        "distance": float(np.linalg.norm(origin)),
    }


def _angle(a, b) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(a, b), -1.0, 1.0))))


def _relative(d: np.ndarray, camera: dict) -> dict:
    c = np.asarray(camera["direction"])
    mirror = np.array([-c[0], -c[1], c[2]])
    _, alpha = angles_of(d)
    rel = (math.degrees(float(alpha)) - camera["azimuth_deg"] + 180.0) % 360.0 - 180.0
    return {"azimuth_from_camera_deg": round(rel, 2), "angle_to_camera_deg": round(_angle(d, c), 2),
            "angle_to_mirror_deg": round(_angle(d, mirror), 2)}


def lamp_rows(lamps: list[Lamp], camera: dict, shape: tuple[int, int]) -> list[dict]:
    """One dictionary per lamp, brightest first (see the module docstring)."""
    from ..scene.envmap import direction_to_texel

    top = max((l.power for l in lamps), default=0.0) or 1.0
    rows = []
    for k, lamp in enumerate(sorted(lamps, key=lambda l: -l.power)):
        d = lamp.direction
        r, c = direction_to_texel(d[None], shape)
        row = {"lamp": k + 1, "kind": lamp.kind,
               "elevation_deg": round(lamp.elevation_deg, 2),
               "azimuth_deg": round(lamp.azimuth_deg, 2), **_relative(d, camera),
               "angular_diameter_deg": round(math.degrees(lamp.diameter), 2),
               "length_deg": round(math.degrees(lamp.length), 2) if lamp.kind == "bar" else None,
               "orientation_deg": round(math.degrees(lamp.orientation), 2) if lamp.kind == "bar" else None,
               "relative_intensity": round(lamp.power / top, 4),
               "irradiance": float(f"{lamp.power:.6g}"), "radiance": float(f"{lamp.radiance:.6g}"),
               "solid_angle_sr": float(f"{lamp.solid_angle:.6g}"),
               "direction_x": round(float(d[0]), 5), "direction_y": round(float(d[1]), 5),
               "direction_z": round(float(d[2]), 5),
               "texel_row": int(r[0]), "texel_column": int(c[0])}
        rows.append(row)
    return rows


def channel_rows(channels, levels: np.ndarray, camera: dict) -> list[dict]:
    """One dictionary per dome channel: its patch or spot, drive level, and its centre's
    angles relative to the camera."""
    rows = []
    for ch, x in zip(channels, levels):
        if ch.is_spot:
            elev, az = ch.elevation, ch.azimuth
        else:
            elev = 0.5 * (ch.elevation_min + ch.elevation_max)
            span = (ch.azimuth_max - ch.azimuth_min) % 360 or 360.0
            az = (ch.azimuth_min + span / 2) % 360
        d = direction(math.radians(90 - elev), math.radians(az))
        rows.append({"channel": ch.name, "level": round(float(x), 4),
                     "elevation_min": None if ch.is_spot else ch.elevation_min,
                     "elevation_max": None if ch.is_spot else ch.elevation_max,
                     "azimuth_min": None if ch.is_spot else ch.azimuth_min,
                     "azimuth_max": None if ch.is_spot else ch.azimuth_max,
                     "elevation": ch.elevation, "azimuth": ch.azimuth, "diameter": ch.diameter,
                     "gain": ch.gain, "centre_elevation_deg": round(elev, 2),
                     "centre_azimuth_deg": round(az, 2), **_relative(d, camera)})
    return rows


def write_table(out_dir: str, stem: str, rows: list[dict], extra: dict) -> None:
    """``stem.csv`` (one row per lamp or channel) and ``stem.json`` (the rows, the frame's
    description, the camera and ``extra``), atomically."""
    if rows:
        with atomic_path(os.path.join(out_dir, f"{stem}.csv"), suffix=".csv") as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                for row in rows:
                    w.writerow({k: "" if v is None else v for k, v in row.items()})
    write_json(os.path.join(out_dir, f"{stem}.json"), {"frame": FRAME_NOTE, **extra, stem: rows})

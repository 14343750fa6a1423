"""LED domes: channel layouts and the search for the channels' intensities.

A layout is a CSV file with one row per channel (angles in degrees, in the part's frame,
``geometry`` module docstring):

- ``channel``: a name (required, unique);
- a patch: ``elevation_min``, ``elevation_max`` (0 to 90) and optionally ``azimuth_min``,
  ``azimuth_max`` (a sector counter-clockwise from +x; default the full ring; a sector
  may wrap, e.g. 315 to 45);
- or a spot (one LED or a small lamp): ``elevation``, ``azimuth``, ``diameter``;
- ``gain`` (optional, default 1): the channel's radiance at full drive.

Each channel's footprint F_c (its unit-radiance patch or spot projected onto the light's
texels, ``footprint``) gives its image I_c = T F_c once, so a setting x (drive levels in
[0, 1]) renders as sum_c x_c I_c and the scratch objective and its gradient
dL/dx_c = <dL/dI, I_c> + <dL/dE, F_c> cost a few dot products. ``optimize_dome`` finds the best
uniform setting and the best level of every single channel (a scan of 40 levels, then
Brent's method), starts projected Adam from the best of them and from the light's own
projection onto the channels, polishes each end jointly in all levels (L-BFGS-B within
[0, 1]) and keeps the best point seen: the result is never worse than the best single
channel or the best uniform setting. Channels that end at full drive while more light
would still lower the loss are reported (``DomeResult.gain_limited``): their gain, not the
objective, sets the level.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os

import numpy as np

from ..errors import InputError
from ..objectives import scratch_objective
from ..optimize.adam import Adam
from .footprint import lamp_footprint, patch_footprint, texel_masses
from .geometry import Lamp

__all__ = ["Channel", "BUILTIN_LAYOUTS", "read_layout", "channel_footprints", "DomeResult",
           "optimize_dome"]

_COLUMNS = ("channel", "elevation_min", "elevation_max", "azimuth_min", "azimuth_max",
            "elevation", "azimuth", "diameter", "gain")


def _ring_dome() -> str:
    """A common ring-and-dome illuminator: a low-angle (dark-field) ring of 8 sectors, a
    middle ring of 8, a dome of 4 quadrants and a top (bright-field) cap."""
    rows = ["channel,elevation_min,elevation_max,azimuth_min,azimuth_max"]
    for name, e0, e1, n in (("low", 5, 15, 8), ("mid", 25, 40, 8), ("dome", 45, 70, 4)):
        width = 360 / n
        for k in range(n):
            c = k * width
            rows.append(f"{name}-{int(c):03d},{e0},{e1},{(c - width / 2) % 360:g},{(c + width / 2) % 360:g}")
    rows.append("top,75,90,0,360")
    return "\n".join(rows) + "\n"


BUILTIN_LAYOUTS = {"ring-dome": _ring_dome()}


@dataclasses.dataclass(frozen=True)
class Channel:
    """One dome channel (angles in degrees): a patch or, with ``diameter``, a spot."""

    name: str
    elevation_min: float = 0.0
    elevation_max: float = 0.0
    azimuth_min: float = 0.0
    azimuth_max: float = 360.0
    elevation: float | None = None
    azimuth: float | None = None
    diameter: float | None = None
    gain: float = 1.0

    @property
    def is_spot(self) -> bool:
        return self.diameter is not None

    def footprint(self, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) footprint at full drive (``gain`` radiance)."""
        if self.is_spot:
            lamp = Lamp("disc", math.radians(90 - self.elevation), math.radians(self.azimuth),
                        math.radians(self.diameter), 1.0)
            lamp.power = lamp.solid_angle
            return self.gain * lamp_footprint(lamp, shape)
        t0, t1 = math.radians(90 - self.elevation_max), math.radians(90 - self.elevation_min)
        a0 = math.radians(self.azimuth_min % 360)
        span = (self.azimuth_max - self.azimuth_min) % 360 or 360.0

        def inside(theta, alpha):
            return (theta >= t0) & (theta <= t1) & (np.mod(alpha - a0, 2 * np.pi) <= math.radians(span))

        return self.gain * patch_footprint(inside, shape)


def _number(text, where, column):
    try:
        v = float(text)
    except ValueError:
        raise InputError(where, f"{column}: expected a number, got {text!r}") from None
    if not math.isfinite(v):
        raise InputError(where, f"{column}: expected a finite number, got {text!r}")
    return v


def _channel(row: dict, where: str) -> Channel:
    vals = {k: v.strip() for k, v in row.items() if v is not None and v.strip() != ""}
    name = vals.pop("channel", "")
    if not name:
        raise InputError(where, "channel: every row needs a name")
    num = {k: _number(v, where, k) for k, v in vals.items()}
    spot, patch = {"elevation", "azimuth", "diameter"}, {"elevation_min", "elevation_max"}
    if spot & num.keys() and (patch | {"azimuth_min", "azimuth_max"}) & num.keys():
        raise InputError(where, "give either a spot (elevation, azimuth, diameter) or a patch "
                                "(elevation_min, elevation_max, ...), not both")
    if spot & num.keys():
        if not spot <= num.keys():
            raise InputError(where, "a spot needs elevation, azimuth and diameter")
        elevations = [num["elevation"]]
        if not 0 < num["diameter"] <= 90:
            raise InputError(where, f"diameter: must be in (0, 90] degrees, got {num['diameter']:g}")
    elif patch <= num.keys():
        elevations = [num["elevation_min"], num["elevation_max"]]
        if num["elevation_min"] >= num["elevation_max"]:
            raise InputError(where, "elevation_min must be below elevation_max")
    else:
        raise InputError(where, "a channel needs elevation_min and elevation_max (a patch) or "
                                "elevation, azimuth and diameter (a spot)")
    for column in ("azimuth_min", "azimuth_max", "azimuth"):
        if column in num and not 0 <= num[column] <= 360:
            raise InputError(where, f"{column}: must be in [0, 360] degrees, got "
                                    f"{num[column]:g} (a sector may wrap: 315 to 45)")
    for e in elevations:
        if e < 0:
            raise InputError(where, f"elevation {e:g} degrees is below the horizon (the part's "
                                    f"plane, elevation 0)")
        if e > 90:
            raise InputError(where, f"elevation {e:g} degrees is above the zenith (90)")
    if num.get("gain", 1.0) <= 0:
        raise InputError(where, f"gain: must be positive, got {num['gain']:g}")
    return Channel(name=name, **num)


def read_layout(path: str) -> list[Channel]:
    """The channels of a layout CSV, or of a built-in layout's name (``BUILTIN_LAYOUTS``)."""
    if path in BUILTIN_LAYOUTS:
        text, where = BUILTIN_LAYOUTS[path], path
    else:
        if not os.path.isfile(path):
            raise InputError(path, "no such layout file (or built-in layout: "
                                   f"{', '.join(BUILTIN_LAYOUTS)})")
        with open(path, newline="") as f:
            text, where = f.read(), path
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    unknown = [h for h in header if h not in _COLUMNS]
    if unknown:
        raise InputError(where, f"unknown column(s) {', '.join(repr(h) for h in unknown)}; "
                                f"allowed: {', '.join(_COLUMNS)}")
    if "channel" not in header:
        raise InputError(where, "the layout needs a 'channel' column")
    reader.fieldnames = header
    channels = [_channel(row, f"{where}: row {k + 2}") for k, row in enumerate(reader)]
    if not channels:
        raise InputError(where, "the layout has no channel")
    names = [c.name for c in channels]
    if len(set(names)) != len(names):
        raise InputError(where, "channel names must be unique")
    return channels


def channel_footprints(channels: list[Channel], shape: tuple[int, int]) -> np.ndarray:
    """(C, H, W) footprints at full drive."""
    return np.stack([c.footprint(shape) for c in channels])


@dataclasses.dataclass
class DomeResult:
    """Drive levels x (C,) in [0, 1], the rig's map (H, W), its objective terms, and the
    best single channel's and best uniform setting's losses."""

    levels: np.ndarray
    footprint: np.ndarray
    terms: dict
    best_single: tuple[str, float, float]   # (channel, level, loss)
    best_uniform: tuple[float, float]       # (level, loss)
    starts: dict
    gain_limited: list[str] = dataclasses.field(default_factory=list)
    """Channels at full drive whose objective would still improve with more light: their
    ``gain`` limits the result."""


def _value(x, images, feet, mask, lam, l2_target, grad=True):
    image = np.tensordot(x, images, axes=1)
    F = np.tensordot(x, feet, axes=1)
    obj = scratch_objective(image, F[..., None], mask, lam=lam, l2_target=l2_target)
    if not grad:
        return obj, None
    g = np.tensordot(images, obj.dL_dI, axes=([1, 2, 3], [0, 1, 2]))
    g += np.tensordot(feet, obj.dL_dE[..., 0], axes=([1, 2], [0, 1]))
    return obj, g


def optimize_dome(channels: list[Channel], images: np.ndarray, feet: np.ndarray,
                  mask: np.ndarray, lam: float = 30.0, l2_target: str = "env",
                  light: np.ndarray | None = None, iterations: int = 300,
                  lr: float = 0.02) -> DomeResult:
    """Best drive levels for channel images (C, h, w, 3) and footprints (C, H, W)."""
    C = len(channels)
    images, feet = np.asarray(images, np.float64), np.asarray(feet, np.float64)
    levels = np.linspace(0, 1, 41)[1:]

    def loss(x):
        return _value(x, images, feet, mask, lam, l2_target, grad=False)[0].loss

    def best_level(direction):
        """The best level s in (0, 1] of the setting s x direction: a scan, then Brent's
        method (the loss along a ray is a / s + b s^2 for the default objective)."""
        from scipy.optimize import minimize_scalar

        scan = min(((float(s), loss(s * direction)) for s in levels), key=lambda t: t[1])
        r = minimize_scalar(lambda s: loss(s * direction), bounds=(1e-4, 1.0), method="bounded",
                            options={"xatol": 1e-6})
        return (float(r.x), float(r.fun)) if r.fun < scan[1] else scan

    uniform = best_level(np.ones(C))
    singles = [best_level(np.eye(C)[c]) for c in range(C)]
    cbest = int(np.argmin([s[1] for s in singles]))
    starts = {"uniform": np.full(C, uniform[0])}
    x1 = np.zeros(C)
    x1[cbest] = singles[cbest][0]
    starts["single"] = x1
    if light is not None:  # the light's projection: non-negative least squares on the map
        from scipy.optimize import nnls

        w = np.sqrt(texel_masses(feet.shape[1:])).ravel()
        A = (feet.reshape(C, -1) * w).T
        starts["projection"] = np.clip(nnls(A, np.asarray(light, np.float64).ravel() * w)[0], 0, 1)
    best_x, best = None, np.inf
    for name, x0 in starts.items():
        x, adam = x0.copy(), Adam(lr)
        for _ in range(iterations):
            obj, g = _value(x, images, feet, mask, lam, l2_target)
            if obj.loss < best:
                best, best_x = obj.loss, x.copy()
            x = np.clip(adam.step(x, g), 0.0, 1.0)
        x = _polish(x, images, feet, mask, lam, l2_target)
        final = loss(x)
        if final < best:
            best, best_x = final, x.copy()
    obj, g = _value(best_x, images, feet, mask, lam, l2_target)
    terms = {"loss": obj.loss, "l_grad": obj.l_grad, "l_l2": obj.l_l2,
             "mean_gradient": obj.mean_gradient}
    # at full drive with a falling loss towards more light: the gain is the limit
    limited = [c.name for c, x, gc in zip(channels, best_x, g) if x >= 1 - 1e-6 and gc < 0]
    return DomeResult(best_x, np.tensordot(best_x, feet, axes=1), terms,
                      (channels[cbest].name, singles[cbest][0], singles[cbest][1]), uniform,
                      {k: v.tolist() for k, v in starts.items()}, limited)


def _polish(x0, images, feet, mask, lam, l2_target, iterations: int = 200) -> np.ndarray:
    """All levels at once to a stationary point within [0, 1] (L-BFGS-B from ``x0``): the
    levels move jointly, so a better setting than one channel (or Adam's end) is found
    where the objective has one."""
    from scipy.optimize import minimize

    def f(x):
        obj, g = _value(x, images, feet, mask, lam, l2_target)
        return obj.loss, g

    r = minimize(f, np.clip(x0, 0.0, 1.0), jac=True, method="L-BFGS-B",
                 bounds=[(0.0, 1.0)] * len(x0), options={"maxiter": iterations, "ftol": 1e-12,
                                                          "gtol": 1e-9})
    return np.clip(r.x, 0.0, 1.0)

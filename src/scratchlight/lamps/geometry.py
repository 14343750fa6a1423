"""Lamps as shapes on the sphere of directions: the lamp model and its sample directions.

Frame (the part's): x along the height map's columns (increasing column index j), y along
its rows (increasing row index i), z up, out of the surface. A direction is given by its
elevation above the part's plane (90 degrees = straight overhead) and its azimuth in that
plane, counted from +x towards +y (counter-clockwise seen from above). Internally the
lamp's centre is (theta, alpha): theta = 90 degrees - elevation is the polar angle from
+z, alpha the azimuth, and

    d(theta, alpha) = (sin theta cos alpha, sin theta sin alpha, cos theta),
    e1 = dd/dtheta   = (cos theta cos alpha, cos theta sin alpha, -sin theta)   (downwards)
    e2 = (-sin alpha, cos alpha, 0)                                   (along the azimuth)

A lamp emits a uniform radiance over a region around d, described in tangent coordinates
(a, b) along (e1, e2) and mapped onto the sphere by the exponential map
``omega = cos r d + sin(r)/r (a e1 + b e2)``, r = |(a, b)| (r is the angular distance
from d). Kinds:

- ``disc``: a small area lamp seen as a disc of angular diameter ``diameter``;
- ``bar``: a line/bar light, ``length`` long and ``diameter`` wide (angles), its long axis
  turned by ``orientation`` from the horizontal (0: parallel to the part's plane, along
  e2; 90 degrees: along e1, pointing at the zenith).

Each lamp is represented by N fixed sample points (a Vogel spiral in the disc, a grid in the
bar) with solid-angle weights; ``lamp_samples`` returns their directions, normalized weights
and the derivatives of both with respect to the lamp's parameters, which the footprint
(``footprint.py``) turns into envmap texels and gradients.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["KINDS", "Lamp", "PARAMS", "direction", "tangent_frame", "lamp_samples",
           "unit_pattern", "angles_of"]

KINDS = ("disc", "bar")
# Parameters of a lamp in the order of its parameter vector (angles in radians).
PARAMS = {"disc": ("theta", "alpha", "diameter", "power"),
          "bar": ("theta", "alpha", "diameter", "power", "length", "orientation")}

_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))
_DISC_SAMPLES = 256
_BAR_SAMPLES = (64, 6)  # along, across


@dataclasses.dataclass
class Lamp:
    """One lamp. Angles in radians; ``power`` is the irradiance it gives a surface facing
    it, in envmap units (radiance x solid angle; a texel of value 1 gives about its solid
    angle)."""

    kind: str = "disc"
    theta: float = 0.5
    alpha: float = 0.0
    diameter: float = 0.1
    power: float = 0.01
    length: float = 0.0
    orientation: float = 0.0

    def params(self) -> np.ndarray:
        return np.array([getattr(self, p) for p in PARAMS[self.kind]], np.float64)

    def with_params(self, values) -> "Lamp":
        """A copy with the parameters ``values`` (in ``PARAMS`` order; without power, the
        shape parameters only)."""
        names = PARAMS[self.kind]
        if len(values) == len(names) - 1:
            names = tuple(n for n in names if n != "power")
        return dataclasses.replace(self, **dict(zip(names, (float(v) for v in values))))

    @property
    def direction(self) -> np.ndarray:
        return direction(self.theta, self.alpha)

    @property
    def elevation_deg(self) -> float:
        return 90.0 - math.degrees(self.theta)

    @property
    def azimuth_deg(self) -> float:
        return math.degrees(self.alpha) % 360.0

    @property
    def solid_angle(self) -> float:
        """Solid angle of the lamp (sr): 2 pi (1 - cos(d/2)) for a disc; the bar's
        exponential-map rectangle integrated."""
        if self.kind == "disc":
            return 2 * math.pi * (1 - math.cos(self.diameter / 2))
        _, _, _, _, omega = _pattern_weights(self)
        return omega

    @property
    def radiance(self) -> float:
        """Radiance in envmap units (power / solid angle)."""
        return self.power / max(self.solid_angle, 1e-300)


def direction(theta, alpha) -> np.ndarray:
    """Unit vector(s) (..., 3) at polar angle theta from +z and azimuth alpha from +x."""
    theta, alpha = np.asarray(theta, np.float64), np.asarray(alpha, np.float64)
    st = np.sin(theta)
    return np.stack([st * np.cos(alpha), st * np.sin(alpha), np.cos(theta)], axis=-1)


def angles_of(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(theta, alpha) of unit vectors (..., 3), alpha in [0, 2 pi)."""
    d = np.asarray(d, np.float64)
    theta = np.arccos(np.clip(d[..., 2], -1.0, 1.0))
    alpha = np.mod(np.arctan2(d[..., 1], d[..., 0]), 2 * np.pi)
    return theta, alpha


def tangent_frame(theta: float, alpha: float):
    """(d, e1, e2) at the lamp's centre (module docstring)."""
    st, ct, sa, ca = math.sin(theta), math.cos(theta), math.sin(alpha), math.cos(alpha)
    d = np.array([st * ca, st * sa, ct])
    e1 = np.array([ct * ca, ct * sa, -st])
    e2 = np.array([-sa, ca, 0.0])
    return d, e1, e2


def unit_pattern(kind: str) -> np.ndarray:
    """(N, 2) fixed sample points of a kind in unit coordinates: the disc's in the unit
    disc (Vogel spiral, equal areas); the bar's on a grid of [-1/2, 1/2]^2 (along, across)."""
    if kind == "disc":
        n = _DISC_SAMPLES
        k = np.arange(n)
        r = np.sqrt((k + 0.5) / n)
        return np.stack([r * np.cos(k * _GOLDEN), r * np.sin(k * _GOLDEN)], axis=1)
    if kind == "bar":
        na, nc = _BAR_SAMPLES
        s = (np.arange(na) + 0.5) / na - 0.5
        q = (np.arange(nc) + 0.5) / nc - 0.5
        S, Q = np.meshgrid(s, q, indexing="ij")
        return np.stack([S.ravel(), Q.ravel()], axis=1)
    raise ValueError(f"unknown lamp kind {kind!r}; choose from {', '.join(KINDS)}")


def _tangent_coords(lamp: Lamp):
    """Tangent coordinates (N, 2) (a along e1, b along e2) of the samples and their
    derivatives {param: (N, 2)} with respect to the shape parameters."""
    u = unit_pattern(lamp.kind)
    if lamp.kind == "disc":
        rho = lamp.diameter / 2
        return rho * u, {"diameter": 0.5 * u}
    s, q = u[:, 0] * lamp.length, u[:, 1] * lamp.diameter
    sp, cp = math.sin(lamp.orientation), math.cos(lamp.orientation)
    t, n = np.array([sp, cp]), np.array([cp, -sp])  # along the bar, across it (in (a, b))
    ab = s[:, None] * t + q[:, None] * n
    return ab, {"length": u[:, :1] * t, "diameter": u[:, 1:] * n,
                "orientation": s[:, None] * n - q[:, None] * t}


def _sinc_terms(r: np.ndarray):
    """f = sin r / r, f'(r) / r and cot r - 1/r (= f'/f), safe at r = 0."""
    small = r < 1e-4
    rs = np.where(small, 1.0, r)
    f = np.where(small, 1 - r * r / 6, np.sin(rs) / rs)
    fp_r = np.where(small, -1.0 / 3 + r * r / 30, (rs * np.cos(rs) - np.sin(rs)) / rs ** 3)
    dlogf = np.where(small, -r / 3, 1 / np.tan(rs) - 1 / rs)
    return f, fp_r, dlogf


def _pattern_weights(lamp: Lamp):
    ab, dab = _tangent_coords(lamp)
    r = np.hypot(ab[:, 0], ab[:, 1])
    f, fp_r, dlogf = _sinc_terms(r)
    area = (math.pi * (lamp.diameter / 2) ** 2 if lamp.kind == "disc"
            else lamp.length * lamp.diameter) / len(ab)
    return ab, dab, r, (f, fp_r, dlogf), float(np.sum(area * f))


def lamp_samples(lamp: Lamp):
    """Sample directions of a lamp and their derivatives.

    Returns ``(omega, weights, d_omega, d_weights)``: omega (N, 3) unit directions,
    weights (N,) summing to 1 (each sample's share of the lamp's solid angle), and the
    derivatives with respect to the lamp's parameters (``PARAMS[kind]``, power excluded:
    neither depends on it) as {name: (N, 3)} and {name: (N,)}.
    """
    ab, dab, r, (f, fp_r, dlogf), _ = _pattern_weights(lamp)
    d, e1, e2 = tangent_frame(lamp.theta, lamp.alpha)
    a, b = ab[:, :1], ab[:, 1:]
    cr = np.cos(r)[:, None]
    fc, fpc = f[:, None], fp_r[:, None]
    tang = a * e1 + b * e2
    omega = cr * d + fc * tang
    g = f / f.sum()
    st, ct = math.sin(lamp.theta), math.cos(lamp.theta)
    d_omega = {
        "theta": cr * e1 - fc * a * d,
        "alpha": cr * st * e2 + fc * (a * ct * e2 - b * (st * d + ct * e1)),
    }
    d_weights = {"theta": np.zeros_like(g), "alpha": np.zeros_like(g)}
    # shape parameters move the tangent coordinates (a, b)
    dw_da = -fc * a * d + fpc * a * tang + fc * e1   # d omega / d a
    dw_db = -fc * b * d + fpc * b * tang + fc * e2   # d omega / d b
    rr = np.where(r > 0, r, 1.0)
    for name, dd in dab.items():
        da, db = dd[:, :1], dd[:, 1:]
        d_omega[name] = da * dw_da + db * dw_db
        dr = np.where(r > 0, (ab[:, 0] * dd[:, 0] + ab[:, 1] * dd[:, 1]) / rr, 0.0)
        dl = dlogf * dr  # d log f_i
        d_weights[name] = g * (dl - np.sum(g * dl))
    return omega, g, d_omega, d_weights

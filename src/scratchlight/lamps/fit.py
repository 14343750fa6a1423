"""Fitting K lamps to a loss of the rig's map, e.g. to a given light map (its best
K-lamp copy); the fit to the scratch objective is ``powers.fit_to_objective``.

Projected Adam (``optimize.Adam``) on the lamps' parameters (``geometry.PARAMS``): angles
in units of the texel spacing, power in units of the initial rig's mean power, so that one
learning rate suits all. The gradient of a loss of the rig's map F is dL/dparams =
J^T dL/dF (``footprint.rig_adjoint``). After every step the parameters are projected onto
the bounds (``RigBounds``): centre at or above ``min_elevation``, diameter and length
within their ranges, power >= 0. ``cap_rig`` keeps a rig's map at most ``peak`` (1: in
[0, 1] like the optimized light) by dimming the lamps that light a texel above it. The
learning rate decays along a cosine to a tenth; a step that does not lower the loss is
halved or not taken.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ..optimize.adam import Adam
from .footprint import lamp_footprint, rig_adjoint, rig_footprint, texel_masses
from .geometry import PARAMS, Lamp

__all__ = ["RigBounds", "LampFit", "cap_rig", "fit_lamps", "fit_to_map"]


@dataclasses.dataclass(frozen=True)
class RigBounds:
    """Limits of a buildable lamp (angles in degrees)."""

    min_elevation_deg: float = 0.0
    min_diameter_deg: float = 2.0
    max_diameter_deg: float = 40.0
    max_length_deg: float = 120.0
    peak: float | None = 1.0

    def project(self, lamp: Lamp, shape: tuple[int, int] | None = None) -> Lamp:
        """The lamp with its geometry inside the bounds and power >= 0 (the cap on the
        rig's map is ``cap_rig``'s)."""
        theta = float(np.clip(lamp.theta, 0.0, math.radians(90.0 - self.min_elevation_deg)))
        diameter = float(np.clip(lamp.diameter, math.radians(self.min_diameter_deg),
                                 math.radians(self.max_diameter_deg)))
        out = dataclasses.replace(lamp, theta=theta, diameter=diameter,
                                  alpha=float(lamp.alpha % (2 * math.pi)),
                                  power=max(float(lamp.power), 0.0))
        if lamp.kind == "bar":
            out.length = float(np.clip(lamp.length, diameter, math.radians(self.max_length_deg)))
            out.orientation = float((lamp.orientation + math.pi / 2) % math.pi - math.pi / 2)
        return out


def cap_rig(lamps: list[Lamp], shape: tuple[int, int], peak: float | None) -> list[Lamp]:
    """Lower the lamps' powers until the rig's map is at most ``peak`` everywhere.

    The map is linear in the powers p: F = sum_k p_k U_k. While the brightest texel t
    exceeds ``peak``, p moves onto that texel's constraint by the least change,
    p -= (F_t - peak) U[:, t] / |U[:, t]|^2 (clipped at 0): lamps are dimmed in proportion
    to how much they light the texel, so a lamp that only touches it is hardly dimmed.
    """
    if peak is None:
        return lamps
    lamps = [dataclasses.replace(l) for l in lamps]
    p = np.array([l.power for l in lamps], np.float64)
    if not np.any(p > 0):
        return lamps
    U = np.stack([lamp_footprint(dataclasses.replace(l, power=1.0), shape).ravel() for l in lamps])
    for _ in range(20 * len(lamps) + 20):
        F = p @ U
        t = int(np.argmax(F))
        if F[t] <= peak * (1 + 1e-9):
            break
        a = U[:, t] * (p > 0)
        p = np.maximum(p - (F[t] - peak) * a / max(float(a @ a), 1e-300), 0.0)
    else:  # not settled: scale the whole rig (always feasible)
        p *= peak / max(float((p @ U).max()), peak)
    for lamp, value in zip(lamps, p):
        lamp.power = float(value)
    return lamps


@dataclasses.dataclass
class LampFit:
    """A fitted rig: its lamps, footprint (H, W), the loss per iteration and the best."""

    lamps: list[Lamp]
    footprint: np.ndarray
    loss: list[float]
    best_loss: float


def _scales(lamps: list[Lamp], shape) -> list[np.ndarray]:
    step = math.pi / (shape[0] - 1)
    p_ref = max(np.mean([l.power for l in lamps]), 1e-6)
    unit = {"theta": step, "alpha": step, "diameter": step, "length": step,
            "orientation": 0.2, "power": p_ref}
    out = []
    for lamp in lamps:
        s = np.array([unit[p] for p in PARAMS[lamp.kind]])
        if lamp.kind in PARAMS and "alpha" in PARAMS[lamp.kind]:
            # a step in azimuth moves the lamp by sin(theta) of its angle
            s[1] = step / max(math.sin(max(lamp.theta, 0.2)), 0.2)
        out.append(s)
    return out


def fit_lamps(lamps: list[Lamp], loss_and_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
              shape: tuple[int, int], iterations: int = 150, lr: float = 0.1,
              bounds: RigBounds = RigBounds(), callback=None) -> LampFit:
    """Projected Adam on the lamps' parameters for ``loss_and_grad(F) -> (loss, dL/dF)``.

    ``lr`` is in units of the texel spacing (angles) and the mean initial power. A step is
    taken only if it lowers the loss; otherwise it is halved up to four times, and the rig
    stays where it is if none does. ``cap_rig`` makes the final rig's map at most
    ``bounds.peak``.
    """
    shape = tuple(shape)
    lamps = cap_rig([bounds.project(l, shape) for l in lamps], shape, bounds.peak)
    scales = _scales(lamps, shape)
    sizes = [len(s) for s in scales]
    adam = Adam(lr)

    def pack(rig):
        return np.concatenate([l.params() / s for l, s in zip(rig, scales)])

    def unpack(vec):
        out, k = [], 0
        for lamp, s, n in zip(lamps, scales, sizes):
            out.append(bounds.project(lamp.with_params(vec[k:k + n] * s)))
            k += n
        return out

    current = lamps
    loss, G = loss_and_grad(rig_footprint(current, shape))
    history = [float(loss)]
    if callback is not None:
        callback(0, current, loss)
    for it in range(iterations):
        x = pack(current)
        g = np.concatenate([gr * s for gr, s in zip(rig_adjoint(current, G), scales)])
        adam.lr = lr * (0.55 + 0.45 * math.cos(math.pi * it / max(iterations, 1)))
        step = adam.step(x, g) - x
        for tau in (1.0, 0.5, 0.25, 0.125, 0.0625):
            trial = unpack(x + tau * step)
            t_loss, t_G = loss_and_grad(rig_footprint(trial, shape))
            if t_loss < loss:
                current, loss, G = trial, t_loss, t_G
                break
        history.append(float(loss))
        if callback is not None:
            callback(it + 1, current, loss)
    current = cap_rig(current, shape, bounds.peak)
    F = rig_footprint(current, shape)
    return LampFit(current, F, history, float(loss_and_grad(F)[0]))


def fit_to_map(lamps: list[Lamp], E: np.ndarray, iterations: int = 300, lr: float = 0.1,
               bounds: RigBounds = RigBounds(peak=None)) -> LampFit:
    """Fit the lamps' footprint to a gray map E (H, W): least squares weighted by the
    texels' solid angles, sum_t m_t (F_t - E_t)^2 / sum_t m_t E_t^2."""
    E = np.asarray(E, np.float64)
    m = texel_masses(E.shape)
    norm = max(float(np.sum(m * E * E)), 1e-300)

    def f(F):
        r = F - E
        return float(np.sum(m * r * r)) / norm, 2 * m * r / norm

    return fit_lamps(lamps, f, E.shape, iterations, lr, bounds)

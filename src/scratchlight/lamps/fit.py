"""Fitting K lamps: to the scratch objective through T, or to a given light map.

Both fits run projected Adam (``optimize.Adam``) on the lamps' parameters
(``geometry.PARAMS``): angles in units of the texel spacing, power in units of the initial
rig's mean power, so that one learning rate suits all. The gradient of a loss of the
rig's map F is dL/dparams = J^T dL/dF (``footprint.rig_adjoint``); for the scratch
objective dL/dF = T^T dL/dI + the L2 term's gradient (``objective.RigObjective``).
After every step the parameters are projected onto the bounds (``RigBounds``): centre at
or above ``min_elevation``, diameter and length within their ranges, power >= 0 and each
lamp's footprint at most ``peak`` (1: the rig's map lies in [0, 1] like the optimized
light's, lamp by lamp). The learning rate decays along a cosine to a tenth; the best
parameters seen are kept.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

from ..optimize.adam import Adam
from .footprint import footprint_peak, rig_adjoint, rig_footprint, texel_masses
from .geometry import PARAMS, Lamp

__all__ = ["RigBounds", "LampFit", "fit_lamps", "fit_to_objective", "fit_to_map"]


@dataclasses.dataclass(frozen=True)
class RigBounds:
    """Limits of a buildable lamp (angles in degrees)."""

    min_elevation_deg: float = 0.0
    min_diameter_deg: float = 2.0
    max_diameter_deg: float = 40.0
    max_length_deg: float = 120.0
    peak: float | None = 1.0

    def project(self, lamp: Lamp, shape: tuple[int, int]) -> Lamp:
        theta = float(np.clip(lamp.theta, 0.0, math.radians(90.0 - self.min_elevation_deg)))
        diameter = float(np.clip(lamp.diameter, math.radians(self.min_diameter_deg),
                                 math.radians(self.max_diameter_deg)))
        out = dataclasses.replace(lamp, theta=theta, diameter=diameter,
                                  alpha=float(lamp.alpha % (2 * math.pi)),
                                  power=max(float(lamp.power), 0.0))
        if lamp.kind == "bar":
            out.length = float(np.clip(lamp.length, diameter, math.radians(self.max_length_deg)))
            out.orientation = float((lamp.orientation + math.pi / 2) % math.pi - math.pi / 2)
        if self.peak is not None and out.power > 0:
            top = footprint_peak(out, shape)
            if top > self.peak:
                out.power *= self.peak / top
        return out


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

    ``lr`` is in units of the texel spacing (angles) and the mean initial power.
    """
    shape = tuple(shape)
    lamps = [bounds.project(l, shape) for l in lamps]
    scales = _scales(lamps, shape)
    sizes = [len(s) for s in scales]
    x = np.concatenate([l.params() / s for l, s in zip(lamps, scales)])
    adam = Adam(lr)

    def unpack(vec):
        out, k = [], 0
        for lamp, s, n in zip(lamps, scales, sizes):
            out.append(lamp.with_params(vec[k:k + n] * s))
            k += n
        return out

    history, best, best_lamps = [], math.inf, lamps
    current = lamps
    for it in range(iterations + 1):
        F = rig_footprint(current, shape)
        loss, G = loss_and_grad(F)
        history.append(float(loss))
        if loss < best:
            best, best_lamps = float(loss), current
        if callback is not None:
            callback(it, current, loss)
        if it == iterations:
            break
        g = np.concatenate([gr * s for gr, s in zip(rig_adjoint(current, G), scales)])
        adam.lr = lr * (0.55 + 0.45 * math.cos(math.pi * it / max(iterations, 1)))
        x = adam.step(x, g)
        current = [bounds.project(l, shape) for l in unpack(x)]
        x = np.concatenate([l.params() / s for l, s in zip(current, scales)])
    return LampFit(best_lamps, rig_footprint(best_lamps, shape), history, best)


def fit_to_objective(lamps: list[Lamp], objective, iterations: int = 150, lr: float = 0.1,
                     bounds: RigBounds = RigBounds(), callback=None) -> LampFit:
    """Fit the lamps to the scratch objective (``objective.RigObjective``)."""
    def f(F):
        v = objective(F)
        return v.loss, v.dL_dF

    return fit_lamps(lamps, f, objective.light.envmap_shape, iterations, lr, bounds, callback)


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

"""The lamp fit to the scratch objective: geometry by Adam, powers solved exactly.

The rig's map must stay in [0, 1] (``peak``) like the optimized light. For fixed lamp
geometry the map and the image are linear in the powers p: F = sum_k p_k U_k and
I = sum_k p_k (T U_k), so the best powers under F <= peak, p >= 0 are a small problem
(K unknowns, one linear constraint per lit texel), solved by SLSQP from the last powers.
The geometry (direction, diameter, bar length and orientation) then takes projected Adam
steps along the gradient of the loss with the powers solved, J^T (dL/dF + nu)
(``footprint.rig_adjoint``; nu the KKT multipliers of the cap's active texels), each step
accepted only if, with the powers solved again, the loss drops (halved up to three times
otherwise; the fit ends after 10 iterations in a row without a step). Joint steps on geometry and power fail here: the objective always
wants more light, and a lamp moved onto a texel's centre must be dimmed at once.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..objectives import scratch_objective
from ..optimize.adam import Adam
from .fit import LampFit, RigBounds, _scales, cap_rig
from .footprint import lamp_footprint, rig_adjoint, rig_footprint
from .geometry import PARAMS, Lamp

__all__ = ["solve_powers", "fit_to_objective"]


def _units(lamps, shape):
    return np.stack([lamp_footprint(dataclasses.replace(l, power=1.0), shape) for l in lamps])


def solve_powers(U: np.ndarray, images: np.ndarray, objective, p0: np.ndarray,
                 peak: float | None = 1.0) -> tuple[np.ndarray, float]:
    """Best powers (K,) for unit footprints U (K, H, W) and their images (K, h, w, 3):
    minimize the objective with sum_k p_k U_k <= peak and p >= 0; returns (p, loss)."""
    from scipy.optimize import minimize

    K = len(U)
    scale = max(float(np.mean(p0)), 1e-6)

    def f(q):
        p = q * scale
        obj = scratch_objective(np.tensordot(p, images, 1), np.tensordot(p, U, 1)[..., None],
                                objective.mask, lam=objective.lam, l2_target=objective.l2_target)
        g = np.tensordot(images, obj.dL_dI, axes=([1, 2, 3], [0, 1, 2]))
        g += np.tensordot(U, obj.dL_dE[..., 0], axes=([1, 2], [0, 1]))
        return obj.loss, g * scale

    cons = []
    q0 = np.asarray(p0, np.float64) / scale
    if peak is not None:
        lit = U.reshape(K, -1).max(0) > 0
        A = U.reshape(K, -1)[:, lit].T * scale
        cons = [{"type": "ineq", "fun": lambda q: peak - A @ q, "jac": lambda q: -A}]
        q0 = q0 * min(1.0, peak / max(float(np.max(A @ q0)), 1e-300))  # a feasible start
    start = f(q0)[0]
    try:
        r = minimize(f, q0, jac=True, method="SLSQP", bounds=[(0.0, None)] * K,
                     constraints=cons, options={"maxiter": 60, "ftol": 1e-10})
        q = np.maximum(r.x, 0.0)
    except (ValueError, np.linalg.LinAlgError):
        q = q0
    if peak is not None:  # SLSQP may end a hair outside
        top = float(np.max(np.tensordot(q * scale, U, 1)))
        if top > peak:
            q *= peak / top
    loss = f(q)[0]
    if loss > start:
        q, loss = q0, start
    return q * scale, float(loss)


def _multipliers(lamps, F, objective, peak, shape) -> np.ndarray:
    """(H, W) KKT multipliers nu of the cap's active texels (F_t = peak) at solved powers:
    the lit lamps' power gradients vanish, dL/dp_k + sum_t nu_t U_kt = 0, nu >= 0 (non-
    negative least squares). dL/dF + nu is then the gradient of the loss with the powers
    re-solved after a small change of geometry (the Lagrangian's)."""
    from scipy.optimize import nnls

    nu = np.zeros(F.size)
    if peak is None:
        return nu.reshape(F.shape)
    active_t = F.ravel() >= peak * (1 - 1e-6)
    active_k = np.array([l.power > 1e-12 for l in lamps])
    if not active_t.any() or not active_k.any():
        return nu.reshape(F.shape)
    U = _units([l for l, a in zip(lamps, active_k) if a], shape).reshape(int(active_k.sum()), -1)
    gp = U @ objective(F).dL_dF.ravel()
    nu[active_t] = nnls(U[:, active_t], -gp)[0]
    return nu.reshape(F.shape)


def fit_to_objective(lamps: list[Lamp], objective, iterations: int = 150, lr: float = 0.1,
                     bounds: RigBounds = RigBounds(), callback=None,
                     patience: int = 10) -> LampFit:
    """Fit the lamps to the scratch objective (``objective.RigObjective``), see the module
    docstring; ``lr`` in units of the texel spacing. Stops early after ``patience``
    iterations in a row without an accepted step."""
    shape = objective.light.envmap_shape
    image = objective.light.image
    lamps = cap_rig([bounds.project(l, shape) for l in lamps], shape, bounds.peak)
    scales = [s[[i for i, n in enumerate(PARAMS[l.kind]) if n != "power"]]
              for l, s in zip(lamps, _scales(lamps, shape))]

    def geometry(rig):
        return np.concatenate([np.delete(l.params(), PARAMS[l.kind].index("power")) / s
                               for l, s in zip(rig, scales)])

    def with_geometry(vec, powers):
        out, k = [], 0
        for lamp, s, p in zip(lamps, scales, powers):
            n = len(s)
            out.append(bounds.project(dataclasses.replace(lamp.with_params(vec[k:k + n] * s),
                                                          power=float(p))))
            k += n
        return out

    def solved(rig):
        U = _units(rig, shape)
        images = np.stack([image(u) for u in U])
        p, loss = solve_powers(U, images, objective, np.array([l.power for l in rig]) + 1e-9,
                               bounds.peak)
        return [dataclasses.replace(l, power=float(v)) for l, v in zip(rig, p)], loss

    current, loss = solved(lamps)
    history = [loss]
    adam, stalled = Adam(lr), 0
    if callback is not None:
        callback(0, current, loss)
    for it in range(iterations):
        F = rig_footprint(current, shape)
        G = objective(F).dL_dF + _multipliers(current, F, objective, bounds.peak, shape)
        grads = rig_adjoint(current, G)
        g = np.concatenate([np.delete(gr, PARAMS[l.kind].index("power")) * s
                            for gr, l, s in zip(grads, current, scales)])
        x = geometry(current)
        adam.lr = lr * (0.55 + 0.45 * math.cos(math.pi * it / max(iterations, 1)))
        step = adam.step(x, g) - x
        powers = [l.power for l in current]
        for tau in (1.0, 0.5, 0.25, 0.125):
            trial, t_loss = solved(with_geometry(x + tau * step, powers))
            if t_loss < loss:
                current, loss = trial, t_loss
                stalled = 0
                break
        else:
            stalled += 1
        history.append(loss)
        if callback is not None:
            callback(it + 1, current, loss)
        if stalled >= patience:
            break
    current = cap_rig(current, shape, bounds.peak)
    F = rig_footprint(current, shape)
    return LampFit(current, F, history, objective(F, grad=False).loss)

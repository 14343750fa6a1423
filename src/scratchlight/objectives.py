"""Stage 5 — the scratch-visibility objective, one module for every engine.

Functions of NumPy arrays (image I, light E, mask M; the L1 gradient sum is one compiled
pass, ``objective_kernels``); they return the loss and its gradients with respect to I and
E, and never modify their inputs. Engines turn dL/dI into dL/dE.

The paper's objective (docs/methods.md, section A)::

    Loss   = L_grad(Y) + lam * L_l2
    L_grad = sum(M) / (sum_ij M_ij (|Y[i+1,j] - Y[i,j]| + |Y[i,j+1] - Y[i,j]|) + eps)
    L_l2   = mean(E**2)                         (l2_target='env', the paper's choice)
           = sum(M * Y**2) / sum(M)             (l2_target='image', the ablation)

The defect-aimed variant (:func:`defect_contrast_objective`) takes a prior region P of
where defects are (the scratch map or a user region) inside the surface M and replaces
L_grad by::

    L_dc = 1 / a + b / a^2,   a = mean_{P} g + eps,   b = mean_{M - P} g

with g = |dY/di| + |dY/dj|: it is the paper's L_grad on P when the rest of the surface is
flat, and it grows with the gradients outside P relative to those inside, so the light is
not rewarded for brightening feed marks at the defects' expense.

Y is the luminance of the linear render (Rec. 709 weights), i is the image row. ``eps``
keeps the gradient of the reciprocal finite when the image is flat. The object mask must
not include the last row or column (scene.build guarantees it), so every difference that
counts stays on the surface.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .errors import InputError

__all__ = ["objective_for", "LUMINANCE_WEIGHTS", "L2_TARGETS", "OBJECTIVES", "ObjectiveValue", "luminance",
           "gradient_l1", "l2_term", "scratch_objective", "defect_contrast_objective"]

LUMINANCE_WEIGHTS = np.array([0.2126, 0.7152, 0.0722])
L2_TARGETS = ("env", "image", "none")
OBJECTIVES = ("gradient", "defect-contrast")


@dataclasses.dataclass(frozen=True)
class ObjectiveValue:
    """Loss terms and gradients. dL_dI: (h, w, 3) float64; dL_dE: like E (L2 term only)."""

    loss: float
    l_grad: float
    l_l2: float
    mean_gradient: float
    dL_dI: np.ndarray
    dL_dE: np.ndarray


def luminance(image: np.ndarray) -> np.ndarray:
    """Rec. 709 luminance (h, w) of a linear RGB image (h, w, 3); (h, w) passes through."""
    image = np.asarray(image, np.float64)
    return image if image.ndim == 2 else image[..., :3] @ LUMINANCE_WEIGHTS


def _check_mask(mask: np.ndarray, shape) -> np.ndarray:
    mask = np.asarray(mask, np.float64)
    if mask.shape != tuple(shape):
        raise ValueError(f"mask shape {mask.shape} does not match image {tuple(shape)}")
    if mask.sum() <= 0:
        raise ValueError("the mask selects no pixel")
    return mask


def gradient_l1(Y: np.ndarray, mask: np.ndarray) -> tuple[float, np.ndarray]:
    """S = sum_ij M_ij (|Y[i+1,j]-Y[i,j]| + |Y[i,j+1]-Y[i,j]|) and dS/dY (h, w).

    Pixels in the last row/column have no forward neighbour; their missing terms are zero.
    One compiled pass (``objective_kernels``); the formula is that of the module docstring.
    """
    from .objective_kernels import gradient_l1_sum

    Y = np.asarray(Y, np.float64)
    return gradient_l1_sum(Y, _check_mask(mask, Y.shape))


def scratch_objective(image: np.ndarray, envmap: np.ndarray, mask: np.ndarray,
                      lam: float = 30.0, l2_target: str = "env",
                      eps: float = 1e-8) -> ObjectiveValue:
    """The paper's loss for a linear render ``image`` (h, w, 3) under ``envmap`` (H, W, C).

    Args:
        image: linear RGB render, float (h, w, 3).
        envmap: the light E, float (H, W, C) with C = 1 or 3, values in [0, 1].
        mask: (h, w) bool or float weights M.
        lam: weight of the L2 term (>= 0). The paper: 30 (gray), 10 (RGB).
        l2_target: 'env' (L2 on E, the paper's method), 'image' (L2 on the luminance
            inside M) or 'none'.
        eps: added to the denominator of L_grad.
    """
    image, E, Y, M = _inputs(image, envmap, mask, lam, l2_target)
    n = float(M.sum())
    S, dS_dY = gradient_l1(Y, M)
    l_grad = n / (S + eps)
    dL_dY = -n / (S + eps) ** 2 * dS_dY
    return _with_l2(image, E, Y, M, l_grad, dL_dY, S / n, lam, l2_target)


def _inputs(image, envmap, mask, lam, l2_target):
    if lam < 0:
        raise ValueError(f"lam must be >= 0, got {lam}")
    if l2_target not in L2_TARGETS:
        raise ValueError(f"l2_target must be one of {L2_TARGETS}, got {l2_target!r}")
    image = np.asarray(image, np.float64)
    Y = luminance(image)
    return image, np.asarray(envmap, np.float64), Y, _check_mask(mask, Y.shape)


def l2_term(E: np.ndarray, Y: np.ndarray, weights: np.ndarray, n: float, lam: float,
            l2_target: str) -> tuple[float, np.ndarray, np.ndarray | None]:
    """The L2 term L_l2 (module docstring) and the gradients of lam * L_l2.

    ``l2_target='env'``: L_l2 = mean(E**2), d/dE = 2 lam E / E.size. ``'image'``: L_l2 =
    sum(weights * Y**2) / n over the luminance Y, d/dY = 2 lam weights Y / n; ``weights``
    is the mask M with n = sum(M) for a whole render, or the mask times the importance
    weights at the pixels a subset estimate rendered. ``'none'``: 0. Returns (L_l2,
    dL/dE like E, dL/dY like Y or None when the term does not depend on the image).
    """
    if l2_target not in L2_TARGETS:
        raise ValueError(f"l2_target must be one of {L2_TARGETS}, got {l2_target!r}")
    E = np.asarray(E, np.float64)
    if l2_target == "env":
        return float(np.mean(E ** 2)), lam * 2.0 * E / E.size, None
    if l2_target == "image":
        return float(np.sum(weights * Y ** 2) / n), np.zeros_like(E), lam * 2.0 * weights * Y / n
    return 0.0, np.zeros_like(E), None


def _with_l2(image, E, Y, M, l_grad, dL_dY, mean_gradient, lam, l2_target) -> ObjectiveValue:
    """Add the L2 term (on E, on the image inside M, or none) to a gradient term."""
    l_l2, dL_dE, dL_dY_l2 = l2_term(E, Y, M, float(M.sum()), lam, l2_target)
    if dL_dY_l2 is not None:
        dL_dY = dL_dY + dL_dY_l2
    if image.ndim == 3:  # channel by channel: ~2x faster than broadcasting into (h, w, 3)
        dL_dI = np.empty(dL_dY.shape + (3,))
        for c in range(3):
            np.multiply(dL_dY, LUMINANCE_WEIGHTS[c], out=dL_dI[..., c])
    else:
        dL_dI = dL_dY
    loss = l_grad + lam * l_l2
    return ObjectiveValue(loss=float(loss), l_grad=float(l_grad), l_l2=float(l_l2),
                          mean_gradient=float(mean_gradient), dL_dI=dL_dI, dL_dE=dL_dE)


def defect_contrast_objective(image: np.ndarray, envmap: np.ndarray, mask: np.ndarray,
                              prior: np.ndarray, lam: float = 30.0, l2_target: str = "env",
                              eps: float = 1e-8) -> ObjectiveValue:
    """The defect-aimed loss L_dc + lam L_l2 (module docstring) for a linear render.

    Args:
        image, envmap, lam, l2_target, eps: as for :func:`scratch_objective`.
        mask: (h, w) bool, the surface M (the object mask).
        prior: (h, w) bool, where defects are expected (P, within M); both P and M - P must
            hold pixels.
    Returns the ObjectiveValue with ``l_grad`` = L_dc and ``mean_gradient`` the mean of g
    over the whole of M.
    """
    image, E, Y, M = _inputs(image, envmap, mask, lam, l2_target)
    P = np.asarray(prior, bool) & (M > 0)
    rest = (M > 0) & ~P
    if not P.any() or not rest.any():
        raise ValueError("the defect prior must cover some, but not all, of the surface")
    S_in, dS_in = gradient_l1(Y, P)
    S_out, dS_out = gradient_l1(Y, rest)
    n_in, n_out = float(P.sum()), float(rest.sum())
    a = S_in / n_in + eps
    b = S_out / n_out
    l_dc = 1.0 / a + b / a ** 2
    dL_dY = (-1.0 / a ** 2 - 2.0 * b / a ** 3) * dS_in / n_in + dS_out / (n_out * a ** 2)
    return _with_l2(image, E, Y, M, l_dc, dL_dY, (S_in + S_out) / (n_in + n_out), lam,
                    l2_target)


def objective_for(name: str, mask: np.ndarray, surface: np.ndarray, lam: float,
                  l2_target: str | float):
    """``f(image, E) -> ObjectiveValue`` of the objective ``name`` ('gradient': the paper's
    L_grad over ``mask``; 'defect-contrast': the contrast of ``mask`` against the rest of
    ``surface``), both (h, w) bool, with the L2 term's ``lam`` and ``l2_target``."""
    if name == "defect-contrast":
        if not (surface & ~mask).any():
            raise InputError("light.mask", "defect-contrast needs a region smaller than the "
                                           "surface (the rest is what it is compared with)")
        return lambda image, E: defect_contrast_objective(image, E, surface, mask, lam, l2_target)
    return lambda image, E: scratch_objective(image, E, mask, lam=lam, l2_target=l2_target)

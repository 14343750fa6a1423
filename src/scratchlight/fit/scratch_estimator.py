"""The scratch-visibility gradient dL/dE estimated from a subset of pixels.

The paper's loss (``objectives.scratch_objective``) is L = n / (S + eps) + lam L_l2 with
n = sum_j M_j and S = sum_j M_j (|Y_j+y - Y_j| + |Y_j+x - Y_j|) over anchor pixels j (Y the
luminance, j+x / j+y the right / lower neighbour). It is not a sum of per-pixel terms, so
pixels are sampled as *triples*: an anchor j drawn from p over the mask (any sampler of
``fit.sampling``) is rendered together with its two neighbours, K anchors in one
render of 3K pixels (independent estimates; an anchor may repeat). With weights
w_k = 1 / (K p_jk), from the primal values of that render

    S_hat  = sum_k w_k M_k (|dv_k| + |dh_k|),            dv = Y_j+y - Y_j, dh = Y_j+x - Y_j
    dS_hat = sum_k w_k M_k (sign(dv_k) (dY_j+y - dY_j) + sign(dh_k) (dY_j+x - dY_j))

are unbiased for S and for dS/dtheta of the full render at the same spp (the derivatives
come from the independent adjoint pass). The gradient is the plug-in ratio

    dL/dtheta ~= -n / (S_hat + eps)^2 * dS_hat  (+ lam dL_l2/dE, exact)

which is biased because 1/S_hat^2 is not linear and S_hat and dS_hat share their pixels:
to first order the relative bias is (3 Var(S_hat) - 2 Cov(S_hat, dS_hat) S / dS) / S^2,
i.e. O(1/K). Measured (``benchmarks/sampling.py``, 2731 anchors on a 256 x 256 view):
CV(S_hat) = 0.010, so the bias is about 2e-4 of the gradient, far below its noise; the
mean of 256 estimates matched the full render's within the comparison's noise (4 %).

The budget counts rendered pixels: K = budget * n_pixels / 3 anchors.
``l2_target='image'`` adds the estimate of lam sum_j M_j Y_j^2 / n from the anchors.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..objectives import L2_TARGETS, LUMINANCE_WEIGHTS, l2_term
from .sampling import PixelSampler, make_sampler, second_moment

__all__ = ["ScratchEstimate", "scratch_sampler", "subset_scratch_gradient",
           "refresh_scratch_sampler"]


@dataclasses.dataclass(frozen=True)
class ScratchEstimate:
    """One subset estimate: ``grad`` like E (float64, render part + L2 part), the loss
    estimate and its terms, S_hat (the masked gradient-L1 sum), ``roughness_grad`` (None
    unless the renderer differentiates it) and the number of rendered pixels."""

    grad: np.ndarray
    loss: float
    l_grad: float
    l_l2: float
    s_hat: float
    roughness_grad: float | None
    pixels: int


def _anchor_support(mask: np.ndarray) -> np.ndarray:
    """(V, h, w) bool anchors: masked pixels whose +x and +y neighbours exist."""
    m = np.asarray(mask, np.float64)
    if m.ndim == 2:
        m = m[None]
    sup = m > 0
    sup[:, -1, :] = False
    sup[:, :, -1] = False
    if not sup.any():
        raise ValueError("the mask selects no pixel with +x and +y neighbours")
    return sup


def scratch_sampler(name: str, mask: np.ndarray, budget: float, **options) -> PixelSampler:
    """Sampler ``name`` over the anchors of ``mask`` ((h, w) or (V, h, w)), drawing
    K = budget * n_pixels / 3 anchors so that 3K pixels are rendered per estimate."""
    sup = _anchor_support(mask)
    n_pixels = sup.size
    frac = min(1.0, max(budget * n_pixels / 3.0, 1.0) / sup.sum())
    return make_sampler(name, sup.shape, frac, support=sup, **options)


def _triples(anchors: np.ndarray, h: int, w: int) -> np.ndarray:
    """(3K,) flat indices: anchors, their +x neighbours, their +y neighbours."""
    return np.concatenate([anchors, anchors + 1, anchors + w])


def subset_scratch_gradient(renderer, envmap: np.ndarray, sampler: PixelSampler,
                            rng: np.random.Generator, mask: np.ndarray, lam: float = 30.0,
                            l2_target: str = "env", seed: int = 0, spp: int | None = None,
                            roughness: float | None = None, eps: float = 1e-8
                            ) -> ScratchEstimate:
    """Estimate the scratch objective's dL/dE from ``sampler.k`` anchor triples.

    Args:
        renderer: ``engines.subset.SubsetRenderer`` (differentiating at least the envmap).
        envmap: E, (H, W, C) float in [0, 1].
        sampler: from ``scratch_sampler`` (its support are the anchors of ``mask``).
        rng: NumPy generator for the anchors.
        mask: (h, w) or (V, h, w) weights M (bool or float).
        lam, l2_target, eps: as in ``objectives.scratch_objective``.
        seed, spp: render seed (the adjoint uses an independent one) and samples per pixel.
        roughness: GGX alpha to render with (None keeps the scene's).
    """
    if l2_target not in L2_TARGETS:
        raise ValueError(f"l2_target must be one of {L2_TARGETS}, got {l2_target!r}")
    h, w = renderer.image_shape
    M = np.asarray(mask, np.float64).reshape(-1)
    n = float(M.sum())
    anchors, weights = sampler.draw(rng)
    k = anchors.size
    idx = _triples(anchors, h, w)
    I = renderer.render(idx, envmap, roughness, seed=seed, spp=spp, grad=True)
    Y = I.astype(np.float64) @ LUMINANCE_WEIGHTS
    ya, yx, yy = Y[:k], Y[k:2 * k], Y[2 * k:]
    mw = M[anchors] * weights
    dv, dh = yy - ya, yx - ya
    s_hat = float(np.sum(mw * (np.abs(dv) + np.abs(dh))))
    sv, sh = mw * np.sign(dv), mw * np.sign(dh)
    dS_dY = np.concatenate([-(sv + sh), sh, sv])
    coef = -n / (s_hat + eps) ** 2
    dL_dY = coef * dS_dY
    E = np.asarray(envmap, np.float64)
    l_grad = n / (s_hat + eps)
    # on the image: the estimate of sum_j M_j Y_j^2 / n from the anchors
    l_l2, dL_dE, dL_dY_l2 = l2_term(E, ya, mw, n, lam, l2_target)
    if dL_dY_l2 is not None:
        dL_dY[:k] += dL_dY_l2
    grads = renderer.backprop(dL_dY[:, None] * LUMINANCE_WEIGHTS[None, :])
    g = np.asarray(grads["envmap"], np.float64).reshape(E.shape) + dL_dE
    loss = l_grad + lam * l_l2
    return ScratchEstimate(grad=g, loss=float(loss), l_grad=float(l_grad), l_l2=l_l2,
                           s_hat=s_hat, roughness_grad=grads.get("roughness"),
                           pixels=int(idx.size))


def refresh_scratch_sampler(renderer, sampler: PixelSampler, envmap: np.ndarray,
                            mask: np.ndarray, iteration: int = 0, spp: int = 16,
                            factor: int = 2, refresh_spp: int = 1, pairs: int = 2,
                            seed: int = 0, roughness: float | None = None) -> None:
    """Refresh an adapted scratch sampler from the cheap pass.

    For an anchor, dL/dI is -n/S^2 M_j times signs, so p1 is proportional to M_j^2 (the
    ``grad`` sampler is then uniform over the mask); p2 of the anchor is the sum of the
    pixel second moments of its triple, an upper bound (up to a factor 2) of the second
    moment of its finite differences.
    """
    if not sampler.needs_maps:
        return
    M = np.asarray(mask, np.float64).reshape(sampler.shape)
    if not sampler.needs_p2:
        sampler.update(M * M, None, iteration=iteration)
        return
    primal, jvp = renderer.block_samples(envmap, roughness, factor=factor, spp=refresh_spp,
                                         pairs=pairs, seed=seed)
    m = jvp.shape[0]
    m2 = second_moment(jvp.reshape(m, *sampler.shape, 3), refresh_spp / spp)
    p2 = m2.copy()
    p2[:, :, :-1] += m2[:, :, 1:]
    p2[:, :-1, :] += m2[:, 1:, :]
    sampler.update(M * M, p2, iteration=iteration)

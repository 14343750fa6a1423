"""Re-estimating the sampling maps of the adapted samplers, and the texels' visibility.

Method. Every ``refresh`` iterations the ``grad`` and ``adaptive`` samplers are given new
maps from a cheap low-resolution pass (``SubsetRenderer.block_samples``: one random pixel
per ``refresh_factor`` x ``refresh_factor`` block, ``refresh_spp`` samples, ``refresh_pairs``
pairs of independent renders, each pair along one random +-1 (Rademacher) direction v of
the parameters in forward mode). From a pair's two estimates ``sampling.second_moment``
separates the mean from the Monte Carlo variance and rescales the variance to the
iteration's spp, giving

    p1_j = E[sum_c (dL/dI_jc)^2]        (dL/dI from ``losses.image_loss`` of each render)
    p2_j = E[sum_c (J_j v)_c^2]         (= sum_k E[(dI_j/dtheta_k)^2] over v)

The refresh pass counts in the fit's measured time.
"""
from __future__ import annotations

import numpy as np

from .losses import image_loss
from .sampling import PixelSampler, second_moment

__all__ = ["stream_seed", "refresh_maps", "sensitivity_weights"]


def stream_seed(seed: int, iteration: int, stream: int = 0) -> int:
    """Render seed of random stream ``stream`` (0..3) at ``iteration`` of a fit with ``seed``:
    0 the iteration's render (the adjoint derives its own), 3 the map refresh. Within one
    fit no two (iteration, stream) pairs share a seed (for fewer than 2**28 iterations)."""
    return (int(seed) * 1_000_003 + int(iteration) * 4 + stream) % (2 ** 30)


def refresh_maps(renderer, sampler: PixelSampler, envmap: np.ndarray, roughness: float | None,
                 targets_flat: np.ndarray, config, iteration: int,
                 scale: dict | None = None) -> None:
    """Re-estimate p1 (and p2) with the cheap pass and update ``sampler``.

    Args:
        renderer: the fit's ``SubsetRenderer``.
        sampler: a sampler of ``fit.sampling`` (only ``needs_p2`` ones get p2).
        envmap: (H, W, C) float32, the current light; roughness: the current GGX alpha.
        targets_flat: (n, 3) float64, the targets of all n pixels of all views.
        config: the ``FitConfig`` (loss, spp, seed and the refresh settings).
        iteration: the iteration the maps are refreshed at (seeds the pass).
        scale: optional {parameter: weight} of the parameters in p2 (see
            ``SubsetRenderer.block_samples``), e.g. Adam's ``inverse_scale``.
    """
    primal, jvp = renderer.block_samples(
        envmap, roughness, factor=config.refresh_factor, spp=config.refresh_spp,
        pairs=config.refresh_pairs, seed=stream_seed(config.seed, iteration, 3), scale=scale,
        derivatives=sampler.needs_p2)
    m = primal.shape[0]
    g = np.stack([image_loss(config.loss, primal[i].reshape(-1, 3), targets_flat,
                             renderer.n_pixels)[1] for i in range(m)])
    ratio = config.refresh_spp / config.spp
    p1 = second_moment(g, ratio).reshape(sampler.shape)
    p2 = None
    if jvp is not None:
        p2 = second_moment(jvp.reshape(m, -1, 3), ratio).reshape(sampler.shape)
    sampler.update(p1, p2, iteration=iteration)


def sensitivity_weights(renderer, envmap: np.ndarray, roughness: float | None = None,
                        spp: int = 16, seed: int = 0) -> np.ndarray:
    """(H, W) float64 >= 0: sum over all pixels and channels of dI/dE_k, the visibility of
    each texel k in the views (one full render and adjoint pass); the weights of the
    weighted envmap RMSE (``fitter.Truth``)."""
    E = np.asarray(envmap, np.float32)
    n = renderer.n_pixels
    renderer.render(np.arange(n), E, roughness, seed=seed, spp=spp, grad=True)
    if "envmap" not in renderer.param_names:
        raise ValueError("the renderer does not differentiate the envmap")
    g = renderer.backprop(np.ones((n, 3)))["envmap"]
    return np.maximum(np.asarray(g).reshape(E.shape[0], E.shape[1], -1).sum(axis=2), 0.0)

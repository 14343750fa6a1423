"""Measurements the adaptive samplers take with a ``SubsetRenderer``: the relative cost of a
pixel (``pixel_cost``) and a cheap low-resolution pass with forward-mode derivatives
(``block_samples``). Both are plain functions of a renderer; its methods of the same names
call them."""
from __future__ import annotations

import numpy as np

from .indices import draw_block_pixels, image_blocks, spread_blocks

__all__ = ["pixel_cost", "block_samples"]


def pixel_cost(renderer, envmap: np.ndarray, roughness: float | None = None, batch: int = 8192,
               repeats: int = 3, seed: int = 0) -> np.ndarray:
    """Relative cost of rendering each pixel (render + adjoint): (V, h, w) float64, 1 for
    pixels whose camera ray misses the surface and kappa >= 1 for pixels that see it.

    kappa is measured as the ratio of the marginal times per pixel of the two classes:
    for each, the median time of ``repeats`` gradient renders of ``batch`` pixels less
    that of ``batch / 8`` pixels, at 4x the renderer's spp (at least 32) so that the
    per-sample work dominates the fixed cost of a render. 1 where a class is empty.
    """
    import time

    V = renderer.n_views
    h, w = renderer.image_shape
    hit = np.stack([s.pixel_cell[..., 0] >= 0 for s in renderer.scenes]).ravel()
    cost = np.ones(hit.size)
    if hit.all() or not hit.any():
        return cost.reshape(V, h, w)
    rng = np.random.default_rng([int(seed), 0xC057])
    spp = max(32, 4 * renderer.spp)
    slopes = []
    for pool in (np.flatnonzero(hit), np.flatnonzero(~hit)):
        t = []
        for k in (max(1, batch // 8), batch):
            idx = rng.choice(pool, k)
            ts = []
            for r in range(int(repeats) + 1):
                t0 = time.perf_counter()
                renderer.render(idx, envmap, roughness, seed=int(seed) + r, spp=spp, grad=True)
                renderer.backprop(np.zeros((k, 3)))
                ts.append(time.perf_counter() - t0)
            t.append(float(np.median(ts[1:])))  # the first may compile
        slopes.append(max(t[1] - t[0], 1e-9))
    cost[hit] = float(np.clip(slopes[0] / slopes[1], 1.0, 50.0))
    return cost.reshape(V, h, w)


def block_samples(renderer, envmap: np.ndarray, roughness: float | None = None, factor: int = 2,
                  spp: int = 1, pairs: int = 2, seed: int = 0, scale: dict | None = None,
                  derivatives: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """A cheap low-resolution pass for the adaptive samplers.

    The image is cut into ``factor`` x ``factor`` blocks. For each of ``pairs`` pairs,
    one pixel of every block is drawn uniformly (so a block value estimates a
    ``factor``-times lower-resolution image) and a Rademacher tangent v (independent
    +-1 per parameter) is drawn; the pair's two estimates trace those pixels with that
    tangent at ``spp`` samples in forward mode, as two occurrences of each pixel in one
    render (so they are independent, and the pair costs one trace of the loops). Because
    E_v[(J v)^2] = sum_k (dI/dtheta_k)^2, products of the two renders of a pair give
    unbiased estimates of sum_k (E[dI/dtheta_k])^2, and their difference the Monte
    Carlo variance (see ``fit.sampling.second_moment``). ``scale`` optionally
    multiplies the tangent per parameter ('envmap': (H, W, C) array, 'roughness':
    float), which weights each parameter's term of that sum by scale^2. With
    ``derivatives=False`` only primal renders are made (cheaper) and jvp is None.

    Returns:
        primal: (2 * pairs, V, h, w, 3) float64 pixel estimates; renders 2i and 2i+1
            form pair i; every pixel holds the value of its block's traced pixel.
        jvp: (2 * pairs, V, h, w, 3) float64, J v of the same renders.
    """
    rng = np.random.default_rng([int(seed), 0x6A5D])
    V = renderer.n_views
    h, w = renderer.image_shape
    f = max(1, int(factor))
    blocks = image_blocks(V, h, w, f)
    E = np.asarray(envmap, np.float32)
    n = max(1, int(pairs))
    primal = np.empty((2 * n, V, h, w, 3))
    jvp = np.empty((2 * n, V, h, w, 3)) if derivatives else None
    for i in range(n):
        idx = draw_block_pixels(rng, blocks, h, w, f)
        tangents = {}
        if "envmap" in renderer.param_names:
            tangents["envmap"] = rng.choice(np.array([-1.0, 1.0], np.float32), size=E.shape)
        if "roughness" in renderer.param_names:
            tangents["roughness"] = float(rng.choice([-1.0, 1.0]))
        for name, sc in (scale or {}).items():
            if name in tangents:
                tangents[name] = tangents[name] * (np.asarray(sc, np.float32) if name == "envmap"
                                                   else float(sc))
        # Both renders of the pair in one batch: every occurrence of an index is an
        # independent estimate, and one render costs one trace of the prb loops.
        both = np.concatenate([idx, idx])
        sd = (int(seed) * 7919 + i) % 2 ** 30
        if derivatives:
            p, jv = renderer.directional_derivative(both, E, roughness, tangents, seed=sd,
                                                spp=spp)
            for j, half in enumerate(np.split(jv, 2)):
                jvp[2 * i + j] = spread_blocks(half, V, h, w, f)
        else:
            p = renderer.render(both, E, roughness, seed=sd, spp=spp)
        for j, half in enumerate(np.split(p, 2)):
            primal[2 * i + j] = spread_blocks(half, V, h, w, f)
    return primal, jvp

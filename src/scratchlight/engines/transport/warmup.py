"""Warm-up: the first iterations of a transport run render with Mitsuba.

Why. Adam's first steps move every texel by about lr in the direction of its gradient's
sign, however small the gradient, and those first steps decide which optimum a run ends in.
T's paths are BSDF-sampled only, so for the texels that only the tail of the reflection lobe
reaches, T's gradient is 3-10 x less precise than that of Mitsuba's path tracer, which also
samples the emitter (benchmarks/README.md). Where those weakly reflected texels decide the
run (the synthetic face-milled map with ``--l2-target image``), a transport run on T from its
first iteration ends ~4 % above the AD engine's objective; after a few Mitsuba iterations
it reaches the AD engine's result. It is the map after the warm-up that matters, not
Adam's state: a fresh Adam after the warm-up does as well, while 5 iterations on T followed
by a new noise calibration do not help at all.

How many, at what spp. Measured (benchmarks/README.md): on that case (128^2 image, 16 spp,
seeds 0-17) 5 iterations at 4 spp give 1.007 x AD by medians (without: 1.041). 1 spp is
not enough in general: on milled-face.sur at 512^2, where a 1-spp image is 4 x noisier than
the run's 16-spp ones and L_grad rewards noise, 10 iterations at 1 spp ended 8-18 % above
AD (9.09 against 7.72), at 4 spp within 1 %. 5 at 4 spp cost ~2 s at 512^2 (a 4-spp
iteration ~0.4 s, a 16-spp one ~1.5-2.3 s).

So the warm-up renders at a quarter of the run's spp, where its images are twice as noisy
as the run's, not four times, but never below 4 spp, or the run's own spp when that is
less (``warmup_spp_for``: 4 for the default 16 and for 4, 1 for 1). The floor is measured
too: at ``--spp 4`` (milled-face.sur at 512^2, the command's scene, seeds 0-8) a quarter,
1 spp, ended at a median of 8.20 against AD's 7.69 (1.066 x), 4 spp, the run's own noise,
at 7.66 (0.996 x; the case matrix in benchmarks/README.md). L_grad rewards an image's
absolute noise, so a 1-spp image misleads the first steps whatever the run's spp.

What. ``Warmup(scene, iterations, spp)``: for the first ``iterations`` gradient renders of a
run, counted from the run's first iteration (a resumed run goes on counting), the transport
engine renders the primal image and backpropagates with an ``ADEngine`` at ``spp`` samples
per pixel, with the iteration's own seed, as the AD engine would.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Warmup", "DEFAULT_WARMUP_ITERATIONS", "MIN_WARMUP_SPP", "warmup_spp_for"]

DEFAULT_WARMUP_ITERATIONS = 5


MIN_WARMUP_SPP = 4
"""The warm-up's least samples per pixel (less only for a run at fewer)."""


def warmup_spp_for(spp: int) -> int:
    """The warm-up's samples per pixel for a run at ``spp``: a quarter, so its images are
    twice as noisy as the run's, not four times, but at least ``MIN_WARMUP_SPP`` (4), or
    ``spp`` itself when the run has fewer (module docstring): 1 -> 1, 4 -> 4, 16 -> 4,
    64 -> 16."""
    spp = max(1, int(spp))
    return max(min(spp, MIN_WARMUP_SPP), spp // 4)


class Warmup:
    """The Mitsuba iterations at the start of a transport run (module docstring).

    Args:
        scene: the engine's ``Scene``.
        iterations: how many of a run's first iterations render with Mitsuba (0: none).
        spp: samples per pixel of each of those renders (primal and gradient each).
    """

    def __init__(self, scene, iterations: int = DEFAULT_WARMUP_ITERATIONS, spp: int = 4):
        if int(iterations) < 0:
            raise ValueError(f"warm-up iterations must be 0 or more, got {iterations}")
        if int(spp) < 1:
            raise ValueError(f"warm-up spp must be at least 1, got {spp}")
        self.scene = scene
        self.iterations = int(iterations)
        self.spp = int(spp)
        self._ad = None
        self.seconds = 0.0  # wall time of the warm-up iterations so far

    def covers(self, iteration: int) -> bool:
        """Whether the run's iteration ``iteration`` (0-based) renders with Mitsuba."""
        return 0 <= int(iteration) < self.iterations

    def render(self, E: np.ndarray, seed: int) -> np.ndarray:
        """The primal image (h, w, 3) float32 of E (H, W, C) by Mitsuba, kept for ``backprop``."""
        import time

        from ..ad import ADEngine

        t0 = time.perf_counter()
        if self._ad is None:
            self._ad = ADEngine(self.scene, spp=self.spp)
        image = self._ad.render(E, seed=seed, grad=True)
        self.seconds += time.perf_counter() - t0
        return image

    def backprop(self, dL_dI: np.ndarray) -> np.ndarray:
        """dL/dE (H, W, C) float64 of the last ``render``, by Mitsuba's adjoint render."""
        import time

        t0 = time.perf_counter()
        grad = self._ad.backprop(dL_dI)
        self.seconds += time.perf_counter() - t0
        return grad

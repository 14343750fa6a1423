"""Noise matching: give the transport engine's primal image the AD engine's Monte Carlo noise.

Why. T is estimated from BSDF-sampled paths only. On a near-mirror metal each such path
carries almost the same throughput, so under a *uniform* light T E is nearly noise-free
(measured on a 128 x 128 face-milled scene at 16 spp: per-pixel variance 3e-6), while
Mitsuba's path tracer, which also samples the emitter and weights both by MIS, has ~70 x
more (2.3e-4). L_grad = n / S is then ~30 x steeper for the transport image (L_grad of a
16-spp image: 853 against 31) and the run from a uniform start follows another path and
stalls in a worse optimum. Swapping the primal image for a Mitsuba render (keeping T^T for
the gradient) removes the stall entirely, fresh T noise does not (benchmarks/README.md).

What. ``NoiseModel.calibrate`` renders the map of the run's first iteration on T (the
start map E0, or the map after the warm-up, module ``warmup``) once with Mitsuba (the AD engine at
``calibration_spp``, 4 by default: the scene's independent sampler makes the variance
exactly proportional to 1 / spp, so it is rescaled to the run's spp) and measures, per pixel and channel, the variance the transport primal
lacks: var_AD - var_T, from the residual r = I_AD - (T_a E0 + T_b E0) / 2 and the halves'
difference d = T_a E0 - T_b E0 (E[r^2] = var_AD + var_T / 2, E[d^2] = 2 var_T), each
squared and averaged over a 5 x 5 pixel box: var_add = var_AD - var_T, clipped at 0.
Each gradient render then adds sqrt(var_add) * (I / I0) * z, z ~ N(0, 1) fresh per
iteration (one z for the three channels, as one path carries all three), scaled with the
image so a pixel that darkens keeps its relative noise. z comes from a counter-based
generator (``kernels.add_scaled_noise``: splitmix64 of (seed, pixel), Box-Muller), one fused
threaded pass over the image, the same for any number of threads.

Measured and not adopted (benchmarks/README.md, the case matrix): subtracting only the
*bulk* of var_T (a box median, as T's noise is heavy-tailed), a gate that adds the noise
only when the start's var_T share is small, recalibrating every 10 iterations, drawing
primal and gradient from random subsets of 8 smaller matrices, and adding to the gradient
the noise a fresh T_b would have (sum_p g_p^2 (T_a - T_b)^2 / 2 per texel).
"""
from __future__ import annotations

import numpy as np

__all__ = ["NoiseModel", "NOISE_MODES"]

NOISE_MODES = ("matched", "none")
_BOX = 5  # pixels of the box the squared residuals are averaged over
_CAL_SEED_OFFSET = 0x0CA1_0000  # the calibration render's seed: never an iteration's


def _box(a: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    return uniform_filter(a, size=(_BOX, _BOX, 1), mode="nearest")


class NoiseModel:
    """The per-pixel noise a transport primal image lacks against a Mitsuba render."""

    def __init__(self, scene, spp: int, calibration_spp: int = 4):
        self.scene = scene
        self.spp = int(spp)
        self.calibration_spp = max(1, min(int(calibration_spp), self.spp))
        self._ad = None
        self.sd = None  # (h, w, 3) float64: standard deviation to add at I0
        self.I0 = None  # (h, w, 3) float64: the image it was measured at
        self.seconds = 0.0

    def calibrate(self, halves, E: np.ndarray, seed: int = 0) -> None:
        """Measure the missing variance at map E (one Mitsuba render at ``calibration_spp``,
        its variance rescaled to ``spp``)."""
        import time

        from ..ad import ADEngine

        t0 = time.perf_counter()
        if self._ad is None:
            self._ad = ADEngine(self.scene, spp=self.calibration_spp)
        a, b = (T.apply(E).astype(np.float64) for T in halves)
        ref = 0.5 * (a + b)
        mc = self._ad.render(E, seed=(int(seed) + _CAL_SEED_OFFSET) % 2 ** 31).astype(np.float64)
        # E[r^2] = var_AD(cal) + var_T / 2, var_AD(spp) = var_AD(cal) * cal / spp
        var_t = 0.5 * _box((a - b) ** 2)
        var_ad = (_box((mc - ref) ** 2) - 0.5 * var_t) * (self.calibration_spp / self.spp)
        var = var_ad - var_t
        self.set_noise(np.sqrt(np.maximum(var, 0.0)), ref)
        self.seconds += time.perf_counter() - t0

    def set_noise(self, sd: np.ndarray, I0: np.ndarray) -> None:
        """Add noise of standard deviation ``sd`` at image ``I0`` (both (h, w, 3)), scaled
        with the image: what ``calibrate`` measured, or another estimate of it."""
        self.sd, self.I0 = sd, I0
        # perturb's noise sd * I / I0 (sd where I0 is black) as gain * I + floor, float32
        lit = I0 > 1e-6
        self._gain = np.where(lit, sd / np.where(lit, I0, 1.0), 0.0).astype(np.float32)
        self._floor = np.where(lit, 0.0, sd).astype(np.float32)

    def perturb(self, image: np.ndarray, seed: int) -> np.ndarray:
        """``image`` plus fresh Gaussian noise of the calibrated variance (scaled by I / I0)."""
        if self.sd is None:
            return image
        from .kernels import add_scaled_noise

        return add_scaled_noise(image, self._gain, self._floor, seed)

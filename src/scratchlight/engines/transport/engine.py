"""The transport engine: render and differentiate by precomputed transport matrices.

A render is three sparse matrix-vector products (milliseconds) and its gradient is exact:
dL/dE = T^T dL/dI. Unlike the AD engine's, the image is deterministic: its Monte Carlo
noise is frozen into T at build time, so the engine holds two independent matrices, one
for the primal image and one for the gradient (see ``TransportEngine``), and by default it
adds to the primal image of each iteration the Monte Carlo noise a Mitsuba render would have
(``noise='matched'``, module ``noise``). The first few iterations of a run render with
Mitsuba at a quarter of its samples per pixel, at least 4 (``warmup``, module ``warmup``).
"""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np

from ...scene.build import Scene
from .cache import load_or_build_transport
from .matrix import TransportMatrix, mean_apply
from .noise import NOISE_MODES, NoiseModel
from .warmup import DEFAULT_WARMUP_ITERATIONS, Warmup, warmup_spp_for

__all__ = ["TransportEngine", "half_seed"]


def half_seed(seed: int, half: int) -> int:
    """Seed of half ``half`` (0 or 1) of a decorrelated engine with ``seed``."""
    d = hashlib.blake2b(f"{int(seed)}/half{int(half)}".encode(), digest_size=4).digest()
    return int.from_bytes(d, "little")


class TransportEngine:
    """Render and differentiate by precomputed transport matrices (the
    ``engines.base.Engine`` protocol, as ADEngine).

    ``TransportEngine(scene, spp, seed, cache_dir, progress, decorrelate)`` loads its
    matrices from the cache or builds them at once (``progress``: False, True, a label, or
    a callable ``progress(done, total)`` over all chunks of the build).

    L_grad rewards Monte Carlo noise (docs/methods.md, section A), and T's noise is frozen: a gradient T^T dL/dI
    taken with the very T whose noise shaped dL/dI would steer the light towards a noisier,
    not a more informative, image. So by default (``decorrelate``) the engine holds two
    independent matrices T_a, T_b of ``spp`` paths per pixel each, as the AD engine renders
    the primal image and the gradient with ``spp`` independent samples each:
    ``render(E, seed, grad=True)`` returns T_a E and ``backprop`` T_b^T dL/dI, the roles
    swapping with the parity of ``seed`` (the loop gives each iteration its own seed).
    Without ``grad`` (and in ``relight``) the image is the mean of both, an estimate with
    2 ``spp`` paths per pixel. ``decorrelate=False`` keeps one T of ``spp`` paths for
    everything (relighting, or studies of the exact gradient of T E).

    ``noise`` ('matched', the default, or 'none'): T's paths are BSDF-sampled only, and under
    a uniform light on a near-mirror metal its image is almost noise-free where Mitsuba's
    render is not; from such a start the run then stalls in a worse optimum (``noise``
    module). With 'matched', ``begin_run(E0, seed)`` (called by the optimization loop)
    renders E0 once with Mitsuba and measures the per-pixel variance the transport image
    lacks; every later ``render(..., grad=True)`` adds fresh Gaussian noise of that variance.
    'none' keeps the deterministic images (the engine before this option). Plain renders
    and ``relight`` are never perturbed.

    ``warmup`` (iterations, 5 by default) and ``warmup_spp`` (default ``warmup_spp_for(spp)``:
    a quarter of ``spp``, at least 4 or ``spp``): the first ``warmup`` iterations of a run
    (counted by ``begin_run``'s ``first_iteration`` and every later gradient render) render
    and backpropagate with Mitsuba instead of T, since the first steps decide where a run
    goes and T's gradient is imprecise for weakly reflected texels (``warmup`` module). With
    'matched' noise the calibration then happens at the first iteration that uses T, at that
    iteration's map.
    Outside a run (no ``begin_run``) every render uses T.

    Attributes:
        T: the single matrix (decorrelate=False) or None.
        halves: (T_a, T_b), or (T, T) without decorrelation.
        from_cache: whether every matrix came from the cache.
        precompute_seconds: wall time of loading or building them.
    """

    name = "transport"

    def __init__(self, scene: Scene, spp: int = 64, seed: int = 0,
                 cache_dir: str | os.PathLike | None | bool = None,
                 progress: bool | str = False, decorrelate: bool = True,
                 noise: str = "matched", warmup: int = DEFAULT_WARMUP_ITERATIONS,
                 warmup_spp: int | None = None):
        self.scene = scene
        self.spp = int(spp)
        self.set_noise(noise)
        self.warmup = Warmup(scene, warmup,
                             warmup_spp_for(spp) if warmup_spp is None else warmup_spp)
        self._iteration = None  # the run's next iteration, from begin_run on
        self._calibrate = False  # calibrate the noise at the first iteration on T
        self.seed = int(seed)
        self.decorrelate = bool(decorrelate)
        if self.spp < 1:
            raise ValueError(f"spp must be at least 1, got {spp}")
        label = "transport" if progress is True else progress
        t0 = time.perf_counter()
        if self.decorrelate:
            def half_progress(k):
                if callable(label):  # progress(done, total) over both halves
                    return lambda done, total: label(k * total + done, 2 * total)
                return f"{label} {k + 1}/2" if label else False

            built = [load_or_build_transport(scene, spp=self.spp, seed=half_seed(self.seed, k),
                                             cache_dir=cache_dir, progress=half_progress(k))
                     for k in (0, 1)]
            self.halves = (built[0][0], built[1][0])
            self.from_cache = built[0][1] and built[1][1]
            self.T = None
        else:
            self.T, self.from_cache = load_or_build_transport(
                scene, spp=self.spp, seed=self.seed, cache_dir=cache_dir, progress=label)
            self.halves = (self.T, self.T)
        self.precompute_seconds = time.perf_counter() - t0
        self._grad = None  # (T used for backprop, channels of E) after render(grad=True)

    def set_noise(self, noise: str) -> None:
        """Switch the noise of gradient renders: 'matched' or 'none' (class docstring). The
        matrices stay; a new 'matched' model calibrates at the next ``begin_run``."""
        if noise not in NOISE_MODES:
            raise ValueError(f"noise must be one of {', '.join(NOISE_MODES)}, got {noise!r}")
        if getattr(self, "noise", None) == noise:
            return
        self.noise = noise
        self.noise_model = NoiseModel(self.scene, self.spp) if noise == "matched" else None

    def set_warmup(self, iterations: int, spp: int | None = None) -> None:
        """How many of a run's first iterations render with Mitsuba, at ``spp`` (default:
        unchanged) samples per pixel (class docstring); 0 for none."""
        spp = self.warmup.spp if spp is None else spp
        if (iterations, spp) != (self.warmup.iterations, self.warmup.spp):
            self.warmup = Warmup(self.scene, iterations, spp)

    def begin_run(self, E0: np.ndarray, seed: int = 0, resume: bool = False,
                  first_iteration: int = 0) -> None:
        """Called by the optimization loop before its iteration ``first_iteration`` (0 for a
        new run) from map E0. Starts counting the run's iterations for the warm-up, and with
        ``noise='matched'`` (re)calibrates the noise added to gradient renders (one small
        Mitsuba render) at E0, or, while the warm-up lasts, at the map of the first
        iteration on T. ``resume`` (the loop continues a run) keeps the calibration of that
        run, so a resumed run equals one run of all its iterations; an engine not yet
        calibrated calibrates all the same."""
        self._iteration = int(first_iteration)
        self._calibrate = False
        if self.noise_model is None or (resume and self.noise_model.sd is not None):
            return
        if self.warmup.covers(self._iteration):
            self.noise_model.sd = None
            self._calibrate = True
        else:
            self.noise_model.calibrate(self.halves, np.asarray(E0, np.float32), seed)

    @property
    def matrices(self) -> list[TransportMatrix]:
        """The distinct matrices held (one or two)."""
        return [self.T] if self.T is not None else list(self.halves)

    @property
    def nbytes(self) -> int:
        """Bytes of all matrices held."""
        return sum(T.nbytes for T in self.matrices)

    def relight(self, E: np.ndarray) -> np.ndarray:
        """The linear RGB image (h, w, 3) float32 under map E (H, W[, C]), C = 1 or 3, with
        all paths: T E, or (T_a E + T_b E) / 2 (one fused pass over both halves)."""
        return mean_apply(self.matrices, E)

    def render(self, E: np.ndarray, seed: int = 0, spp: int | None = None,
               grad: bool = False) -> np.ndarray:
        """Linear RGB image (h, w, 3) float32 of the scene under E (H, W, C), C = 1 or 3.

        ``spp`` is ignored (the matrices are fixed). With ``grad`` the image comes from one
        half (chosen by the parity of ``seed``) and ``backprop`` will use the other (during a
        run's warm-up: from Mitsuba, and ``backprop`` by its adjoint render); without it,
        ``relight(E)``.
        """
        E = np.asarray(E)
        if not grad:
            self._grad = None
            return self.relight(E)
        if self._iteration is not None:
            iteration, self._iteration = self._iteration, self._iteration + 1
            if self.warmup.covers(iteration):
                self._grad = (self.warmup, None)
                return self.warmup.render(E, seed)
            if self._calibrate:
                self._calibrate = False
                self.noise_model.calibrate(self.halves, E.astype(np.float32), seed)
        k = int(seed) % 2
        primal, other = self.halves[k], self.halves[1 - k]
        image = primal.apply(E)
        if self.noise_model is not None:
            image = self.noise_model.perturb(image, seed)
        self._grad = (other, 1 if E.ndim == 2 else E.shape[2])
        return image

    def render_progressive(self, E: np.ndarray, spp: int, seed: int = 0, chunk_spp: int = 16,
                           progress: bool | str = False) -> np.ndarray:
        """``relight(E)``: the matrices are fixed, so ``spp``, ``seed``, ``chunk_spp`` and
        ``progress`` are ignored."""
        return self.relight(E)

    def backprop(self, dL_dI: np.ndarray) -> np.ndarray:
        """dL/dE = T^T dL/dI (T the half not used by the last ``render(..., grad=True)``),
        (H, W, C) float64, C that of that render's E (1 for a 2-D map); a gray map gets
        the sum over the R, G and B products."""
        if self._grad is None:
            raise RuntimeError("backprop needs a preceding render(..., grad=True)")
        T, channels = self._grad
        self._grad = None
        if T is self.warmup:
            return self.warmup.backprop(dL_dI)
        return T.apply_transpose(dL_dI, channels)


"""The per-iteration engine: render with Mitsuba and differentiate with path replay (prb).

``render(E, seed)`` renders the scene under map E; with ``grad=True`` it records the
render so that ``backprop(dL_dI)`` returns dL/dE. The primal image uses ``seed`` and the
adjoint pass an independent seed (``seed_grad``), so the Monte Carlo noise of the image
that dL/dI is computed from is uncorrelated with the noise of dI/dE: the product is an
unbiased gradient estimate (Mitsuba's ``seed_grad``; see docs/methods.md, section B).

E is an (H, W, C) float32 array, C = 1 (gray: one value drives R, G and B) or 3; images are
linear RGB float32 (h, w, 3).
"""
from __future__ import annotations

import numpy as np

from ..scene.build import ENVMAP_KEY, Scene
from ..scene.envmap import as_envmap, expand_envmap_drjit

__all__ = ["ADEngine", "GRAD_SEED_OFFSET"]

# Gradient passes use seed + this, far from any primal seed of the same run.
GRAD_SEED_OFFSET = 0x5EED_0000


class ADEngine:
    """Differentiable rendering of one Scene with Mitsuba's prb integrator (the
    ``engines.base.Engine`` protocol)."""

    name = "ad"

    def __init__(self, scene: Scene, spp: int = 16):
        import mitsuba as mi

        self.scene = scene
        self.spp = int(spp)
        self.params = mi.traverse(scene.mitsuba_scene)
        self.params.keep([ENVMAP_KEY])
        self._E = None
        self._image = None
        self._sensors = {}  # Mitsuba sampler name -> sensor of the judging renders

    def _set_envmap(self, E: np.ndarray, grad: bool):
        import drjit as dr
        import mitsuba as mi

        E_dr = mi.TensorXf(as_envmap(E))
        if grad:
            dr.enable_grad(E_dr)
        self.params[ENVMAP_KEY] = expand_envmap_drjit(E_dr)
        self.params.update()
        self._E = E_dr

    def render(self, E: np.ndarray, seed: int = 0, spp: int | None = None,
               grad: bool = False) -> np.ndarray:
        """Linear RGB image (h, w, 3) of the scene under E. ``grad`` keeps it for backprop."""
        import mitsuba as mi

        self._set_envmap(E, grad)
        seed = int(seed) % 2**31  # Mitsuba seeds are 32-bit
        img = mi.render(self.scene.mitsuba_scene, self.params, spp=spp or self.spp,
                        seed=seed, seed_grad=(seed + GRAD_SEED_OFFSET) % 2**32)
        self._image = img if grad else None
        return np.array(img, dtype=np.float32)[..., :3]

    def relight(self, E: np.ndarray) -> np.ndarray:
        """The deterministic image (h, w, 3) float32 under E: ``render(E, seed=0)`` at the
        engine's own spp. Like every plain render it drops a pending gradient render."""
        return self.render(E, seed=0)

    def render_progressive(self, E: np.ndarray, spp: int, seed: int = 0, chunk_spp: int = 16,
                           progress: bool | str = False) -> np.ndarray:
        """Render at ``spp`` as independent passes of ``chunk_spp`` averaged, showing a
        progress bar (``progress`` may be its label). Equals one render at ``spp`` in
        expectation; the passes use seeds derived from ``seed``."""
        from tqdm.auto import tqdm

        chunks = [chunk_spp] * (spp // chunk_spp) + ([spp % chunk_spp] if spp % chunk_spp else [])
        acc = None
        bar = tqdm(chunks, desc=progress if isinstance(progress, str) else "render",
                   unit="pass", disable=not progress, leave=False)
        for k, n in enumerate(bar):
            img = self.render(E, seed=int(seed) * 7919 + k, spp=n).astype(np.float64) * n
            acc = img if acc is None else acc + img
        return (acc / spp).astype(np.float32)

    def render_sampled(self, E: np.ndarray, spp: int, seed: int = 0, sampler: str = "independent",
                       progress: bool | str = False) -> np.ndarray:
        """Render (h, w, 3) float32 at ``spp`` with Mitsuba's ``sampler``.

        'independent': ``render_progressive`` (passes of 16). 'ldsampler' (``spp`` 4, 16,
        64, ...): Mitsuba's low-discrepancy sampler, which stratifies over all the samples of a
        pixel, so it renders in one pass (Mitsuba's wavefront is one kernel: its memory does
        not grow with spp); only where pixels x spp passes 2**30 samples does it split into
        equal stratified passes of a power of 4, averaged."""
        import mitsuba as mi

        if sampler == "independent":
            return self.render_progressive(E, spp, seed=seed, progress=progress)
        from ..scene.build import scene_sensor_dict

        spp = int(spp)
        pixels = int(np.prod(self.scene.image_shape))
        per_pass = spp
        while per_pass > 4 and pixels * per_pass > 2 ** 30:
            per_pass //= 4
        if sampler not in self._sensors:
            self._sensors[sampler] = mi.load_dict(scene_sensor_dict(
                self.scene.heightmap, self.scene.spec, per_pass, sampler))
        self._set_envmap(E, False)
        self._image = None
        acc = None
        for k in range(max(1, spp // per_pass)):
            img = mi.render(self.scene.mitsuba_scene, spp=per_pass, sensor=self._sensors[sampler],
                            seed=(int(seed) * 7919 + k) % 2 ** 31)
            img = np.array(img, dtype=np.float64)[..., :3]
            acc = img if acc is None else acc + img
        return (acc / max(1, spp // per_pass)).astype(np.float32)

    def backprop(self, dL_dI: np.ndarray) -> np.ndarray:
        """dL/dE (H, W, C) float64, C that of the E of the last ``render(..., grad=True)``
        (1 for a 2-D map), for a given image gradient dL/dI (h, w, 3), by an independent
        adjoint render."""
        import drjit as dr
        import mitsuba as mi

        if self._image is None:
            raise RuntimeError("backprop needs a preceding render(..., grad=True)")
        g = mi.TensorXf(np.ascontiguousarray(dL_dI, dtype=np.float32))
        dr.backward(dr.sum(self._image.array * g.array))
        grad = np.array(dr.grad(self._E), dtype=np.float64)
        self._image = None
        return grad

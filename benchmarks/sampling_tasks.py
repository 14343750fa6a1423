"""The fit tasks of the adaptive-sampling benchmark (``sampling.py``): a face-milled
surface (``surface.synthetic``), its true light and roughness, two camera views, the target
images rendered at 256 spp, and the start a fit begins from."""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["BUDGET", "SAMPLERS", "TASKS", "PROBE_GAIN", "Task", "make_task", "task_cameras",
           "truth_envmap"]

BUDGET = 0.125  # the fraction of the pixels a subset sampler renders per iteration
SAMPLERS = ("full", "uniform", "grad", "adaptive")


def truth_envmap(H: int = 16, W: int = 32) -> np.ndarray:
    """Dim sky (0.25 above, 0.1 near the horizon), strip lights, black floor: (H, W, 1)."""
    yy = np.mgrid[0:H, 0:W][0]
    E = (0.1 + 0.15 * (yy < H // 2 - 2)).astype(np.float32)[..., None]
    r = lambda f: int(round(f * (H - 1)))  # noqa: E731  (row of a polar-angle fraction)
    E[r(0.4), ::3] = 1.0
    E[r(0.27), 1::4] = 0.8
    E[r(0.2):r(0.47) + 1, ::8] = 0.9
    E[r(0.33), W // 2 - 2:W // 2 + 3] = 0.7
    E[H // 2:] = 0.0
    return E


TASKS = ("photo", "probe", "material")
PROBE_GAIN = 1.1  # the material task's light: the true map 10 % too bright


def task_cameras(kind: str):
    """Two views per task (azimuths 0 and 180 degrees); ``material`` uses the probe's.

    photo: 45 degrees elevation, 20 degree field of view, 3 units from the centre: every
        pixel sees the metal (a photo of the part; the light is seen only in reflection).
    probe: 15 degrees elevation, 40 degree field of view, the whole surface in view: each
        view sees the sky above the surface directly and mirrored in it (15 % metal).
    """
    from scratchlight.scene import CameraSpec

    if kind in ("probe", "material"):
        return [CameraSpec(elevation_deg=15.0, fov_deg=40.0, azimuth_deg=az) for az in (0.0, 180.0)]
    if kind != "photo":
        raise ValueError(f"unknown task {kind!r}")
    el, d = np.radians(45.0), 3.0
    return [CameraSpec(preset="custom", fov_deg=20.0,
                       origin=(d * np.sin(az) * np.cos(el), -d * np.cos(az) * np.cos(el),
                               d * np.sin(el)))
            for az in (0.0, np.pi)]


@dataclasses.dataclass
class Task:
    """A fit task: renderer, truth, targets, the start and what is fitted."""

    kind: str
    R: object
    Et: np.ndarray
    rt: float
    target: np.ndarray
    weights: np.ndarray | None
    E0: np.ndarray
    params: tuple[str, ...]

    @property
    def error_keys(self) -> tuple[str, ...]:
        return (("envmap_rmse_weighted",) if "envmap" in self.params else ()) + ("roughness_error",)

    def truth(self):
        from scratchlight.fit import Truth

        if "envmap" in self.params:
            return Truth(envmap=self.Et, roughness=self.rt, weights=self.weights)
        return Truth(roughness=self.rt)


def make_task(kind: str, res: int, env: tuple[int, int], spp: int, size: int = 128,
              seed: int = 1) -> Task:
    """The task's renderer, truth and target images (rendered at 256 spp).

    photo, probe: fit the light (start: constant 0.5) and the roughness.
    material: fit the roughness only, under a light known up to an exposure error (the
        true map x ``PROBE_GAIN``, as a light probe photographed 10 % too bright): the
        residual the roughness cannot explain is everywhere, its derivative only on the metal.
    """
    import scratchlight as sl
    from scratchlight.engines.subset import SubsetRenderer
    from scratchlight.fit import sensitivity_weights
    from scratchlight.surface.synthetic import synthesize

    hm = sl.prepare(synthesize("face-mill", size=size, seed=seed, scratches=2), max_size=size)
    Et = truth_envmap(*env)
    scenes = [sl.build_scene(hm, sl.SceneSpec(width=res, height=res, roughness=0.3, camera=c),
                             envmap=Et) for c in task_cameras(kind)]
    params = ("roughness",) if kind == "material" else ("envmap", "roughness")
    R = SubsetRenderer(scenes, spp=spp, params=params)
    target = R.render_views(Et, 0.15, seed=12345, spp=256)
    if kind == "material":
        return Task(kind, R, Et, 0.15, target, None, (Et * PROBE_GAIN).astype(np.float32), params)
    weights = sensitivity_weights(R, Et, 0.15, spp=16, seed=7)
    return Task(kind, R, Et, 0.15, target, weights, np.full_like(Et, 0.5), params)

"""The session: one surface and its scene, steered step by step.

Every front end (the command line, ``run_optimization``, the paper study, an interactive
page, a batch runner) drives scratchlight through a :class:`Session`::

    s = Session(SurfaceConfig("part.x3p"), SceneSpec(width=256, height=256))  # read, prepare, build
    s.set_mask("scratch")                         # the pixels the objective counts
    run = s.optimize(LightConfig(), OptimizerConfig(iterations=50), callback=...)
    s.set_mask(my_region)                         # steer between runs ...
    run = s.optimize(resume=True)                 # ... and go on where the last run stopped
    image = s.relight(run.envmap)                 # the engine's image (fast with transport)
    final = s.render_final(run.envmap)            # independent high-spp Mitsuba render
    s.evaluate(run.envmap)                        # visibility metrics over seeds
    s.save("out/part")                            # today's results folder, run.json replayable

The surface is read and prepared once and the scene built once; every engine comes from
the session's ``engine_pool`` (``engines.pool``), masks from ``surface.masks``. Judging
renders (``render_final``, ``evaluate``) are Mitsuba path tracing with seeds the
optimization never uses; a run's initial light's one is cached on disk.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from typing import Callable

import numpy as np

from .engines.pool import EnginePool
from .errors import InputError
from .optimize.config import LightConfig, OptimizeConfig, OptimizerConfig
from .optimize.run import OptimizationRun, OptimizationStep
from .phases import Phases
from .scene import SceneSpec
from .surface import SurfaceConfig
from .surface.masks import SurfaceMasks

__all__ = ["Session", "OptimizationStep", "OptimizationRun", "FINAL_RENDER_SEED", "run_optimization"]

# Final renders use seeds of their own, never used by the loop's iterations.
FINAL_RENDER_SEED = 987_654


class Session:
    """A prepared surface and its Mitsuba scene, with the steps of a run as methods.

    Args:
        surface: a ``SurfaceConfig``, or a height-map path (prepared with the defaults).
        scene: camera, metal and image size (``SceneSpec``); exaggeration 'auto' is resolved
            when the scene is built (``self.scene.spec`` holds the number).
        device: 'auto', 'cpu' or 'cuda' (Mitsuba variant).
        before_prepare: ``hm -> hm`` applied to the map as read (e.g. to attach a truth mask
            that must be cropped and resampled with the heights).
        progress: show progress bars on long steps.
        envmap: the light the scene starts with, (H, W, C); its size is the texel grid a
            transport matrix is built for (default: constant 0.5, 25 x 50).
    """

    def __init__(self, surface: SurfaceConfig | str | os.PathLike,
                 scene: SceneSpec | None = None, *, device: str = "auto",
                 before_prepare: Callable | None = None, progress: bool = False,
                 envmap: np.ndarray | None = None):
        from .backend import use_device
        from .scene import build_scene
        from .surface import load_surface

        self.created_at = time.perf_counter()
        if not isinstance(surface, SurfaceConfig):
            surface = SurfaceConfig(path=os.fspath(surface))
        scene = SceneSpec() if scene is None else scene
        surface.validate()
        scene.validate()
        try:
            self.variant = use_device(device)
        except RuntimeError as e:
            raise InputError("device", str(e)) from None
        self.surface_config = surface
        self.scene_spec = scene  # as asked ('auto' exaggeration kept), for replayable configs
        self.device = device
        self.progress = progress
        self.phases = Phases()  # wall seconds of each step (run.json's ``phases_s``)
        with self.phases.timed("read"):
            raw, self.heightmap = load_surface(surface, before_prepare)
        self.raw_shape: tuple[int, int] = tuple(raw.shape)
        self._envmap = envmap  # the light every scene of the session starts with
        with self.phases.timed("scene"):
            self.scene = build_scene(self.heightmap, scene, envmap=envmap)
        if not self.scene.object_mask.any():
            raise InputError(surface.path, "the surface covers no pixel of the image; check the camera")
        self.masks = SurfaceMasks(self.scene.object_mask, self.scene.cell_mask_to_image,
                                  self.heightmap, self.raw_shape, surface.crop)
        self.mask = self.scene.object_mask.copy()
        self._mask_source = "object"
        self.engine_pool = EnginePool()  # every engine of the session comes from here
        self._scenes = {tuple(self.scene.envmap_shape): self.scene}  # by envmap shape
        self._views: dict = {}  # scenes of other cameras, by repr(camera)
        self.run: OptimizationRun | None = None

    @classmethod
    def from_config(cls, cfg: OptimizeConfig, progress: bool = False) -> "Session":
        """The session of an optimization config, with its mask set (``cfg.light``)."""
        cfg.validate()
        from .scene import constant_envmap

        session = cls(cfg.surface, cfg.scene, device=cfg.device, progress=progress,
                      envmap=constant_envmap(0.5, tuple(cfg.light.envmap_size)))
        session.set_mask(cfg.light.mask, cfg.light)
        return session

    # ------------------------------------------------------------------ image space
    @property
    def object_mask(self) -> np.ndarray:
        """(h, w) bool: pixels fully on the surface (see ``scene.build``)."""
        return self.scene.object_mask

    def truth_mask(self) -> np.ndarray | None:
        """(h, w) bool ground-truth defect pixels (synthetic surfaces), or None."""
        return self.masks.truth()

    def region_mask(self, region: str | np.ndarray, light: LightConfig | None = None) -> np.ndarray:
        """The objective's pixels M (h, w) bool for ``region`` within the object mask
        (``surface.masks.SurfaceMasks.region``): 'object', 'scratch' (with the kernel, patch
        and threshold of ``light``), a PNG path in the height-map file's grid, or an
        (h, w) bool array in image space."""
        light = LightConfig() if light is None else light
        return self.masks.region(region, light.scratch_kernel, light.scratch_patch,
                                 light.scratch_threshold)

    def set_mask(self, region: str | np.ndarray, light: LightConfig | None = None) -> np.ndarray:
        """Make ``region`` (see :meth:`region_mask`) the pixels the next optimization counts."""
        self.mask = self.region_mask(region, light)
        self._mask_source = region if isinstance(region, str) else "array"
        return self.mask

    # ------------------------------------------------------------------ engines
    def _scene_for(self, shape: tuple[int, int]):
        # T's columns are the texels of the scene's envmap_shape; the Mitsuba scene itself
        # does not depend on it, so a copy of the Scene record is enough (kept: one digest).
        shape = tuple(int(v) for v in shape)
        if shape not in self._scenes:
            self._scenes[shape] = dataclasses.replace(self.scene, envmap_shape=shape)
        return self._scenes[shape]

    def choose_engine(self, spp: int = 16, seed: int = 0,
                      envmap_shape: tuple[int, int] | None = None,
                      budget_bytes: int | None = None, **options):
        """What ``engine='auto'`` resolves to for this scene at ``spp`` (an
        ``engines.choice.EngineChoice``: transport when its matrices fit ``budget_bytes``,
        default a quarter of the memory; decided by the cache or a short pilot). Kept by
        the pool. ``options``: ``cache_dir``, ``decorrelate`` of the transport engine."""
        shape = self.scene.envmap_shape if envmap_shape is None else envmap_shape
        try:
            return self.engine_pool.choose(self._scene_for(shape), spp, seed, budget_bytes, **options)
        except ValueError as e:
            raise InputError("optimizer.memory_budget_gib", str(e)) from None

    def engine(self, name: str = "auto", spp: int = 16, seed: int = 0,
               envmap_shape: tuple[int, int] | None = None,
               progress: Callable[[int, int], None] | str | None = None,
               budget_bytes: int | None = None, **options):
        """The engine ``name`` ('auto', 'ad' or 'transport') at ``spp`` from the session's
        pool (``engines.pool``: built on first use, kept); 'auto' is resolved by
        :meth:`choose_engine` (with ``budget_bytes``).

        ``envmap_shape``: the (H, W) texels of the lights it will see; a transport matrix
        is built for one texel grid (default: the scene's).
        ``progress``: ``progress(done, total)`` (or a label) while a transport matrix is built.
        ``options``: ``cache_dir``, ``decorrelate`` of the transport engine.
        """
        shape = self.scene.envmap_shape if envmap_shape is None else envmap_shape
        if name == "auto":
            name = self.choose_engine(spp, seed, shape, budget_bytes, **options).engine
        if name not in ("ad", "transport"):
            raise InputError("optimizer.engine", f"unknown engine {name!r}; choose from ad, transport")
        # an AD engine sees any map size: one per spp, on the scene itself
        scene = self._scene_for(shape) if name == "transport" else self.scene
        try:
            return self.engine_pool.get(name, scene, spp, seed, progress=progress, **options)
        except ValueError as e:
            raise InputError("optimizer.engine", str(e)) from None

    def transport_engine(self, spp: int = 16, seed: int = 0,
                         envmap_shape: tuple[int, int] | None = None, **options):
        """The transport engine (``engines.transport.TransportEngine``) for lights of
        ``envmap_shape`` texels: what relighting and lamp rigs (I = T F) need."""
        return self.engine("transport", spp, seed, envmap_shape, **options)

    def view_scene(self, camera):
        """The scene of this surface seen by another ``camera`` (``scene.CameraSpec``),
        with the session's scene spec and starting light otherwise."""
        from .scene import build_scene

        if camera == self.scene_spec.camera:
            return self.scene
        if repr(camera) not in self._views:
            spec = dataclasses.replace(self.scene_spec, camera=camera)
            self._views[repr(camera)] = build_scene(self.heightmap, spec, envmap=self._envmap)
        return self._views[repr(camera)]

    def subset_renderer(self, cameras=None, spp: int = 16, params=("envmap",), freeze=None):
        """The subset renderer (``engines.subset.SubsetRenderer``) of the views of
        ``cameras`` (default: the session's camera), from the pool."""
        scenes = [self.view_scene(c) for c in (cameras or [self.scene_spec.camera])]
        return self.engine_pool.get("subset", scenes, spp, params=params, freeze=freeze)

    def drop_engines(self) -> int:
        """Forget the engines built so far, freeing their memory (a transport matrix comes
        back from the on-disk cache on next use); returns how many were dropped."""
        return self.engine_pool.clear()

    def initial_envmap(self, light: LightConfig | None = None, seed: int = 0) -> np.ndarray:
        """The initial map of ``light.init``, (H, W, C) float32 in [0, 1]."""
        from .optimize.init import initial_envmap

        light = LightConfig() if light is None else light
        return initial_envmap(light.init, tuple(light.envmap_size), light.channels, seed=seed,
                              scene=self.scene)

    # ------------------------------------------------------------------ steps
    def optimize(self, light: LightConfig | None = None, optimizer: OptimizerConfig | None = None,
                 *, seed: int | None = None, envmap: np.ndarray | None = None,
                 resume: bool = False,
                 callback: Callable[[OptimizationStep], bool | None] | None = None,
                 ) -> OptimizationRun:
        """Optimize the light for the current mask (the paper's loop, ``optimize_light``).

        Args:
            light, optimizer: settings (defaults: the paper's); with ``resume`` they default
                to the previous run's.
            seed: base seed of the iterations' renders (default 0, or the resumed run's).
            envmap: the initial map (H, W, C); default ``light.init``.
            resume: continue the previous run from its last map, with its optimizer state
                and iteration count (the mask or the options may have changed in between).
            callback: ``callback(step) -> stop``, after every iteration; returning True stops
                the run and keeps the best map seen.
        """
        from .optimize.loop import optimize_light

        prev = self.run if resume else None
        if resume and prev is None:
            raise InputError("resume", "there is no earlier run in this session to resume")
        light = light or (prev.light if prev else LightConfig())
        optimizer = optimizer or (prev.optimizer if prev else OptimizerConfig())
        seed = (prev.seed if prev else 0) if seed is None else int(seed)
        light.validate()
        if light.shots > 1:  # a sequence is run_optimization's (report.shots_results)
            raise InputError("light.shots", "Session.optimize runs one light; several shots "
                                            "run through run_optimization")
        optimizer.validate()
        t0 = time.perf_counter()
        name, choice = optimizer.engine, None
        if prev is not None and name == "auto":
            name, choice = prev.engine, prev.engine_choice  # a resumed run keeps its engine
        elif name == "auto":
            made = self.choose_engine(optimizer.spp, seed, tuple(light.envmap_size),
                                      optimizer.memory_budget_bytes)
            name, choice = made.engine, made.to_dict()
            if self.progress:
                print(made.summary(), file=sys.stderr, flush=True)
        self.phases.add("engine_choice", time.perf_counter() - t0)
        with self.phases.timed("engine_build"):
            engine = self.engine(name, optimizer.spp, seed, tuple(light.envmap_size))
            if name == "transport":
                engine.set_noise(optimizer.transport_noise)
                engine.set_warmup(optimizer.transport_warmup)
        setup_s = time.perf_counter() - t0
        if prev is not None:
            E0 = prev.envmap if envmap is None else envmap
        else:
            E0 = self.initial_envmap(light, seed) if envmap is None else envmap
        E0 = np.asarray(E0, np.float32)
        if E0.shape != (*light.envmap_size, light.channels):
            raise InputError("light.envmap_size", f"initial map of shape {E0.shape} does not match "
                                                  f"{tuple(light.envmap_size)} x {light.channels}")

        def on_step(k, E, loss):
            if callback is not None:
                return callback(OptimizationStep(k, E.astype(np.float32), float(loss)))
            return None

        res = optimize_light(engine, E0, self.mask, light, optimizer, seed=seed,
                             progress=self.progress, callback=on_step, adam=prev.adam if prev else None,
                             first_iteration=prev.iterations_done if prev else 0,
                             objective=self.objective_function(light, self.mask))
        self.phases.add("iterations", res.time_s)
        if prev is not None:
            res.loss, res.l_grad, res.l_l2 = prev.loss + res.loss, prev.l_grad + res.l_grad, prev.l_l2 + res.l_l2
            res.time_s += prev.time_s
        self.run = OptimizationRun(
            light=light, optimizer=optimizer, seed=seed,
            initial_envmap=prev.initial_envmap if prev else E0, envmap=res.envmap,
            best_envmap=res.best_envmap, mask=self.mask.copy(), loss=res.loss, l_grad=res.l_grad,
            l_l2=res.l_l2, time_s=res.time_s,
            engine_setup_s=setup_s + (prev.engine_setup_s if prev else 0.0),
            interrupted=res.interrupted, stopped=res.stopped, adam=res.adam, engine=name,
            engine_choice=choice)
        return self.run

    def relight(self, envmap: np.ndarray, engine: str = "auto", spp: int = 16,
                seed: int = 0) -> np.ndarray:
        """The image (h, w, 3) linear float32 under ``envmap`` by the engine's ``relight``:
        T E for the transport engine (milliseconds once T is built), a render for 'ad';
        'auto' as :meth:`choose_engine` decides."""
        return self.engine(engine, spp, seed, np.shape(envmap)[:2]).relight(envmap)

    def render_final(self, envmap: np.ndarray, spp: int = 256, seed: int = FINAL_RENDER_SEED,
                     label: str = "render", cache: bool = False,
                     sampler: str = "independent") -> np.ndarray:
        """An independent Mitsuba render (h, w, 3) linear float32 at ``spp`` with Mitsuba's
        ``sampler`` (``ADEngine.render_sampled``: 'independent' in passes of 16, or
        'ldsampler' in one pass).

        ``cache``: take it from the on-disk cache of judging renders, or render and add it
        there (``engines.render_cache``: the same image to the bit; the judge does this for
        a run's initial light, which every run from that start on the surface shares)."""
        from .engines.render_cache import cached_render

        def render():  # the pool's AD engine: render_sampled sets its own spp
            return self.engine_pool.get("ad", self.scene, 16).render_sampled(
                envmap, spp, seed=seed, sampler=sampler,
                progress=label if self.progress else False)

        if not cache:
            return render()
        return cached_render(self.scene, envmap, spp, seed, render, sampler=sampler)[0]

    def objective_function(self, light: LightConfig, mask: np.ndarray) -> Callable:
        """``f(image, E) -> ObjectiveValue`` of ``light.objective`` for the region ``mask``:
        the paper's L_grad over it, or the defect-aimed contrast of it against the rest of
        the surface."""
        from .objectives import objective_for

        return objective_for(light.objective, mask, self.object_mask, light.effective_lam,
                             light.l2_target)

    def judge(self, image: np.ndarray, envmap: np.ndarray, light: LightConfig | None = None,
              mask: np.ndarray | None = None) -> dict[str, float]:
        """The objective's terms of a (final) render: loss, l_grad, l_l2, mean_gradient."""
        light = LightConfig() if light is None else light
        obj = self.objective_function(light, self.mask if mask is None else mask)(image, envmap)
        return {"loss": obj.loss, "l_grad": obj.l_grad, "l_l2": obj.l_l2,
                "mean_gradient": obj.mean_gradient}

    def evaluate(self, envmap: np.ndarray, seeds: int = 4, spp: int = 256, seed: int = 0,
                 truth: np.ndarray | None = None, **metric_options) -> tuple[dict, list]:
        """Visibility metrics (mean and standard error) over ``seeds`` independent renders
        with seeds ``seed .. seed+seeds-1``; returns ``(metrics, images)``.

        ``truth``: (h, w) bool defect pixels; default the height map's own truth mask.
        ``metric_options``: guard, threshold, ... of ``report.metrics.visibility_metrics``.
        """
        from .report.metrics import metrics_over_seeds

        truth = self.truth_mask() if truth is None else truth
        images = [self.render_final(envmap, spp, seed=seed + k, label=f"seed {seed + k}")
                  for k in range(seeds)]
        return metrics_over_seeds(images, self.object_mask, truth, **metric_options), images

    def save(self, out_dir: str | os.PathLike, config: OptimizeConfig | None = None) -> dict:
        """Judge the last run's initial and final light (``report.judge``: independent
        Mitsuba renders at ``final_spp`` until the objective is precise) and write the
        results folder (see ``report.results``); returns the ``run.json`` dictionary."""
        from .report.judge import judge_run
        from .report.results import write_optimization_results

        if self.run is None:
            raise InputError("save", "nothing to save: run optimize first")
        run = self.run
        if config is None:
            config = OptimizeConfig(surface=self.surface_config, scene=self.scene_spec,
                                    light=run.light, optimizer=run.optimizer, seed=run.seed,
                                    device=self.device)
        renders, objectives, detect = judge_run(self, run, config, FINAL_RENDER_SEED)
        return write_optimization_results(out_dir, config, self, run, renders, objectives,
                                          FINAL_RENDER_SEED,
                                          total_time_s=time.perf_counter() - self.created_at,
                                          phases_s=self.phases.rounded(), detectability=detect)


def run_optimization(cfg: OptimizeConfig, out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """Run the optimization described by ``cfg`` and write its results folder ``out_dir``
    (see ``report.results``); returns the dictionary saved as ``run.json``."""
    from .report import robust_results, shots_results  # a set of surfaces; K lights together
    if cfg.over is not None:
        return robust_results.run_robust(Session, cfg, out_dir, FINAL_RENDER_SEED, progress)
    session = Session.from_config(cfg, progress=progress)
    if cfg.light.shots > 1:
        return shots_results.run_sequence(session, cfg, out_dir, FINAL_RENDER_SEED, progress)
    session.optimize(cfg.light, cfg.optimizer, seed=cfg.seed)
    return session.save(out_dir, cfg)

"""The subset renderer: differentiable rendering of a chosen set of pixels of one or
several views.

Method. Mitsuba 3.9's ``mi.ad.loaders`` registers a ``flat_sensor``: a sensor whose film is
one row of K pixels and whose k-th pixel traces rays through source pixel ``pixel_idx[k]``
of one of several source sensors (jittered inside that pixel, so with the box filter of our
cameras flat pixel k is an unbiased estimate of the source pixel). We keep one such sensor
per batch size K, load the chosen indices into it and render it with ``mi.render`` and the
scene's ``prb`` integrator, so the primal pass uses ``seed`` and the adjoint (path replay)
pass uses the independent ``seed + GRAD_SEED_OFFSET``: the product of dL/dI computed from
the primal with dI/dtheta of the replay is an unbiased gradient estimate (docs/methods.md, section B).

Speed. With ``freeze`` on (the default) the primal render and the adjoint pass are
replayed Dr.Jit frozen functions instead of re-traced Python loops (see ``frozen``).

Pixels are chosen by flat indices over all views (see ``indices``).

Parameters that can be differentiated: ``envmap`` (the (H, W, C) light, C = 1 gray or 3,
expanded to Mitsuba's (H, W + 2, 3) layout with wrap-around columns, see
``scene.envmap``) and ``roughness`` (the GGX alpha of the conductor, Mitsuba key
``surface.bsdf.alpha.value``). Several views must show the same surface under the same
light: rays of every view are traced in the Mitsuba scene of the first view.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ...scene.build import ENVMAP_KEY, Scene
from ...scene.envmap import as_envmap, expand_envmap, expand_envmap_adjoint, expand_envmap_drjit
from ..ad import GRAD_SEED_OFFSET
from .frozen import freeze_from_environment, frozen_passes, run_frozen

__all__ = ["SubsetRenderer", "ROUGHNESS_KEY", "PARAM_NAMES"]

ROUGHNESS_KEY = "surface.bsdf.alpha.value"
PARAM_NAMES = ("envmap", "roughness")
_MAX_CACHED_SENSORS = 8


class SubsetRenderer:
    """Render chosen flat pixel indices of one or more views; differentiate w.r.t. the light
    and the roughness.

    Args:
        scenes: one Scene or a list of Scenes (views) with equal image sizes that show the
            same surface; rays are traced in ``scenes[0].mitsuba_scene``.
        spp: samples per pixel of a render (default for every call).
        params: names of the parameters to differentiate, a subset of ``PARAM_NAMES``.
        freeze: replay recorded kernels instead of re-tracing every render (see above);
            None (default) means yes unless the environment sets ``SCRATCHLIGHT_FREEZE=0``.
    """

    name = "subset"

    def __init__(self, scenes: Scene | Sequence[Scene], spp: int = 16,
                 params: Sequence[str] = ("envmap",), freeze: bool | None = None):
        import drjit as dr  # noqa: F401  (variant already selected by build_scene)
        import mitsuba as mi
        import mitsuba.ad.loaders  # noqa: F401  (registers the 'flat_sensor' plugin)

        self.scenes = [scenes] if isinstance(scenes, Scene) else list(scenes)
        if not self.scenes:
            raise ValueError("at least one view is needed")
        shapes = {s.image_shape for s in self.scenes}
        if len(shapes) != 1:
            raise ValueError(f"all views must have the same image size, got {sorted(shapes)}")
        unknown = set(params) - set(PARAM_NAMES)
        if unknown or not params:
            raise ValueError(f"params must be a non-empty subset of {PARAM_NAMES}, got {params}")
        self.param_names = tuple(p for p in PARAM_NAMES if p in params)
        self.spp = int(spp)
        self.mitsuba_scene = self.scenes[0].mitsuba_scene
        self.sensors = [s.mitsuba_scene.sensors()[0] for s in self.scenes]
        self.params = mi.traverse(self.mitsuba_scene)
        keys = [ENVMAP_KEY] + ([ROUGHNESS_KEY] if ROUGHNESS_KEY in self.params else [])
        if "roughness" in self.param_names and ROUGHNESS_KEY not in self.params:
            raise ValueError("the surface is a smooth mirror (roughness 0): its roughness "
                             "cannot be differentiated; start from a roughness > 0")
        self.params.keep(keys)
        self.envmap_shape = tuple(self.scenes[0].envmap_shape)
        self._sensors: dict[int, object] = {}
        self._handles: dict[str, object] = {}
        self._image = None
        self._pending: tuple | None = None  # (indices, seed, spp) of a frozen grad render
        if freeze is None:
            freeze = freeze_from_environment()
        self.freeze = bool(freeze)
        self._frozen_primal = self._frozen_backward = None
        self._unfreezable: set[str] = set()

    # ---- layout -------------------------------------------------------------------------
    @property
    def n_views(self) -> int:
        return len(self.scenes)

    @property
    def image_shape(self) -> tuple[int, int]:
        """(h, w) of every view."""
        return self.scenes[0].image_shape

    @property
    def n_pixels(self) -> int:
        """Size of the index set: V * h * w."""
        h, w = self.image_shape
        return self.n_views * h * w

    @property
    def roughness(self) -> float | None:
        """The scene's current GGX alpha (None for a smooth mirror)."""
        if ROUGHNESS_KEY not in self.params:
            return None
        return float(np.array(self.params[ROUGHNESS_KEY]).ravel()[0])

    def _flat_sensor(self, k: int):
        import mitsuba as mi

        if k not in self._sensors:
            if len(self._sensors) >= _MAX_CACHED_SENSORS:
                self._sensors.pop(next(iter(self._sensors)))
            sensor = mi.load_dict({
                "type": "flat_sensor",
                "film": {"type": "hdrfilm", "width": int(k), "height": 1, "pixel_format": "rgb",
                         "sample_border": False, "rfilter": {"type": "box"}},
                "sampler": {"type": "independent", "sample_count": 1},
            })
            sensor.initialize(self.sensors, int(k))
            self._sensors[k] = sensor
        return self._sensors[k]

    # ---- parameters ---------------------------------------------------------------------
    def _set_params(self, envmap: np.ndarray, roughness: float | None, grad: bool,
                    tangents: dict | None = None, leaf: bool = False) -> None:
        """Write E (and alpha) into the scene; with ``grad`` keep differentiable handles.
        ``tangents`` (forward mode) maps parameter names to their tangent values. ``leaf``
        makes the envmap handle the scene's (H, W + 2, 3) tensor itself rather than E with
        a gather to that layout: a frozen adjoint pass must not leave AD edges outside it."""
        import drjit as dr
        import mitsuba as mi

        E = as_envmap(envmap)
        H, W, C = E.shape
        if (H, W) != self.envmap_shape:
            self.envmap_shape = (H, W)
        handles = {}
        if leaf:
            data = mi.TensorXf(expand_envmap(E))
            if grad and "envmap" in self.param_names:
                dr.enable_grad(data)
                handles["envmap"] = data
            self.params[ENVMAP_KEY] = data
        else:
            E_dr = mi.TensorXf(E)
            if grad and "envmap" in self.param_names:
                dr.enable_grad(E_dr)
                handles["envmap"] = E_dr
            self.params[ENVMAP_KEY] = expand_envmap_drjit(E_dr)
        self._envmap_layout = (H, W, C)
        if roughness is not None:
            if ROUGHNESS_KEY not in self.params:
                raise ValueError("the surface is a smooth mirror; it has no roughness to set")
            a = dr.opaque(mi.Float, float(roughness))  # opaque: no recompile per value
            if grad and "roughness" in self.param_names:
                dr.enable_grad(a)
                handles["roughness"] = a
            self.params[ROUGHNESS_KEY] = a
        elif grad and "roughness" in self.param_names:
            a = dr.opaque(mi.Float, self.roughness)
            dr.enable_grad(a)
            handles["roughness"] = a
            self.params[ROUGHNESS_KEY] = a
        self.params.update()
        if tangents:
            for name, value in tangents.items():
                if name not in handles:
                    raise ValueError(f"no differentiable parameter {name!r}")
                if name == "envmap":
                    v = np.asarray(value, np.float32).reshape(E.shape)
                    if leaf:
                        v = expand_envmap(v)
                    dr.set_grad(handles[name], mi.TensorXf(v))
                else:
                    dr.set_grad(handles[name], dr.opaque(mi.Float, float(value)))
        self._handles = handles

    # ---- rendering ----------------------------------------------------------------------
    def _check_indices(self, indices) -> np.ndarray:
        idx = np.asarray(indices, np.int64).ravel()
        if idx.size == 0:
            raise ValueError("no pixel index given")
        if idx.min() < 0 or idx.max() >= self.n_pixels:
            raise ValueError(f"pixel indices must lie in [0, {self.n_pixels}), got "
                             f"[{idx.min()}, {idx.max()}]")
        return idx

    def _render(self, idx: np.ndarray, seed: int, spp: int | None):
        """Traced render: an image attached to the AD graph when parameters have gradients."""
        import mitsuba as mi

        sensor = self._flat_sensor(idx.size)
        sensor.pixel_idx = mi.UInt32(idx.astype(np.uint32))
        return mi.render(self.mitsuba_scene, self.params, sensor=sensor, spp=int(spp or self.spp),
                         seed=int(seed), seed_grad=int(seed) + GRAD_SEED_OFFSET)

    def _make_frozen(self) -> None:
        self._frozen_primal, self._frozen_backward = frozen_passes(
            self.mitsuba_scene.integrator(), _MAX_CACHED_SENSORS)

    def _frozen_call(self, which: str, *args):
        """Run frozen function ``which`` ('primal' or 'backward'); None if it cannot be
        recorded here (it is then traced from now on, with a warning)."""
        if which in self._unfreezable:
            return None
        if self._frozen_primal is None:
            self._make_frozen()
        return run_frozen(which, getattr(self, f"_frozen_{which}"), self._unfreezable, *args)

    def render(self, indices, envmap: np.ndarray, roughness: float | None = None, seed: int = 0,
               spp: int | None = None, grad: bool = False) -> np.ndarray:
        """Linear RGB values (K, 3) float32 of the pixels ``indices`` (K,) under ``envmap``
        (H, W, C) and GGX ``roughness`` (None keeps the scene's). ``grad`` keeps the render
        for :meth:`backprop`."""
        import mitsuba as mi

        idx = self._check_indices(indices)
        frozen = self.freeze and "primal" not in self._unfreezable
        self._set_params(envmap, roughness, grad, leaf=frozen)
        spp = int(spp or self.spp)
        self._image = self._pending = None
        self._current = (envmap, roughness)
        if frozen:
            img = self._frozen_call("primal", self.mitsuba_scene, self._flat_sensor(idx.size),
                                    mi.UInt32(idx.astype(np.uint32)), mi.UInt32(int(seed)), spp)
            if "primal" not in self._unfreezable:  # else recording failed: trace below
                if grad:
                    self._pending = (idx, int(seed), spp)
                return np.array(img, dtype=np.float32).reshape(idx.size, -1)[:, :3]
        img = self._render(idx, seed, spp)
        self._image = img if grad else None
        return np.array(img, dtype=np.float32).reshape(idx.size, -1)[:, :3]

    def render_views(self, envmap: np.ndarray, roughness: float | None = None, seed: int = 0,
                     spp: int | None = None, grad: bool = False) -> np.ndarray:
        """Every pixel of every view: (V, h, w, 3) float32 (the full render)."""
        h, w = self.image_shape
        out = self.render(np.arange(self.n_pixels), envmap, roughness, seed, spp, grad)
        return out.reshape(self.n_views, h, w, 3)

    def backprop(self, dL_dI: np.ndarray) -> dict[str, np.ndarray | float]:
        """Gradients of sum_k dL_dI[k] . I_k with respect to the differentiable parameters,
        by an adjoint render with an independent seed, after ``render(..., grad=True)``.

        Args:
            dL_dI: (K, 3) (or (V, h, w, 3) after ``render_views``) float image gradient;
                estimator weights 1/(K p_k) are to be folded in by the caller.
        Returns:
            {'envmap': (H, W, C) float64, 'roughness': float} for the chosen parameters.
        """
        import drjit as dr
        import mitsuba as mi

        if self._image is None and self._pending is None:
            raise RuntimeError("backprop needs a preceding render(..., grad=True)")
        n = self._pending[0].size if self._pending is not None else dr.width(self._image.array) // 3
        g = np.ascontiguousarray(np.asarray(dL_dI, np.float32).reshape(-1, 3))
        if g.shape[0] != n:
            raise ValueError(f"dL_dI has {g.shape[0]} pixels, the render had {n}")
        if self._pending is not None:
            idx, seed, spp = self._pending
            self._frozen_call("backward", self.mitsuba_scene, self.params, self._flat_sensor(n),
                              mi.UInt32(idx.astype(np.uint32)),
                              mi.UInt32(seed + GRAD_SEED_OFFSET),
                              mi.TensorXf(g.reshape(1, n, 3)), spp)
            if "backward" in self._unfreezable:  # recording failed: redo it traced
                freeze, self.freeze = self.freeze, False
                try:
                    self.render(idx, *self._current, seed=seed, spp=spp, grad=True)
                    return self.backprop(dL_dI)
                finally:
                    self.freeze = freeze
        else:
            dr.backward(dr.sum(self._image.array * mi.Float(g.ravel())))
        out: dict[str, np.ndarray | float] = {}
        for name, handle in self._handles.items():
            value = np.array(dr.grad(handle), dtype=np.float64)
            if name == "envmap" and self._pending is not None:
                # a frozen render's handle is the scene's (H, W + 2, 3) tensor: back to E
                value = expand_envmap_adjoint(value, self._envmap_layout[2])
            out[name] = value if name == "envmap" else float(value.ravel()[0])
        if self._pending is not None:
            # The scene holds the differentiable leaves and the edges the frozen adjoint
            # pass left from them; detach them, or a later forward-mode pass (of any
            # scene) would try to propagate along those edges.
            for name, key in (("envmap", ENVMAP_KEY), ("roughness", ROUGHNESS_KEY)):
                if name in self._handles:
                    self.params[key] = dr.detach(self.params[key])
            self.params.update()
        for handle in self._handles.values():
            dr.disable_grad(handle)
        self._image = self._pending = None
        self._handles = {}
        return out

    def pixel_cost(self, envmap: np.ndarray, roughness: float | None = None, batch: int = 8192,
                   repeats: int = 3, seed: int = 0) -> np.ndarray:
        """Relative cost of rendering each pixel, (V, h, w) float64 (``probes.pixel_cost``)."""
        from .probes import pixel_cost

        return pixel_cost(self, envmap, roughness, batch=batch, repeats=repeats, seed=seed)

    def directional_derivative(self, indices, envmap: np.ndarray, roughness: float | None,
                               tangents: dict, seed: int = 0, spp: int | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Forward mode: (primal (K, 3), J v (K, 3)) float32 for the pixels ``indices``, where
        J v = sum_k dI/dtheta_k v_k and ``tangents`` gives v per parameter name
        ('envmap': (H, W, C) array, 'roughness': float)."""
        import drjit as dr

        idx = self._check_indices(indices)
        self._set_params(envmap, roughness, grad=True, tangents=tangents)
        handles = list(self._handles.values())
        # Traced, not frozen: recording this forward-mode pass aborts the process in some
        # sequences of scenes (Dr.Jit: "enqueue_host_func ... cannot be recorded"), which
        # no fallback can catch. It runs only in the sampling-map refresh.
        img = self._render(idx, seed, spp)
        dr.enqueue(dr.ADMode.Forward, *handles)
        dr.traverse(dr.ADMode.Forward, dr.ADFlag.ClearEdges)
        grad_img = dr.grad(img)
        jv = np.array(grad_img, dtype=np.float32).reshape(idx.size, -1)[:, :3]
        primal = np.array(img, dtype=np.float32).reshape(idx.size, -1)[:, :3]
        for h in handles:
            dr.disable_grad(h)
        self._handles = {}
        return primal, jv

    def block_samples(self, envmap: np.ndarray, roughness: float | None = None, factor: int = 2,
                      spp: int = 1, pairs: int = 2, seed: int = 0, scale: dict | None = None,
                      derivatives: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """A cheap low-resolution pass for the adaptive samplers (``probes.block_samples``)."""
        from .probes import block_samples

        return block_samples(self, envmap, roughness, factor=factor, spp=spp, pairs=pairs,
                             seed=seed, scale=scale, derivatives=derivatives)

"""Fitting the light and the roughness of a height-map scene to target images.

Method. Minimise an image loss (``fit.losses``) between renders I(theta) and targets T over
the parameters theta = (envmap E, GGX roughness alpha) with Adam (``optimize.adam``),
clamping E >= 0 and alpha to [0.01, 1] after every step. Each iteration renders only K
pixels drawn by a pixel sampler (``fit.sampling``; ``full`` renders every pixel) and
estimates the gradient without bias as

    dL/dtheta ~= sum_k w_k (dL/dI_jk)(I_jk) * dI_jk/dtheta,    w_k = 1 / (K p_jk),

where the primal values I_jk that dL/dI is computed from and the adjoint pass that gives
dI/dtheta use independent seeds (``engines.subset``). The adapted samplers are refreshed
every ``refresh`` iterations (``fit.refresh``).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import numpy as np

from ..errors import InputError
from ..optimize.adam import Adam
from .config import FitConfig
from .losses import image_loss
from .refresh import refresh_maps, stream_seed
from .sampling import make_sampler

__all__ = ["ROUGHNESS_RANGE", "Truth", "FitResult", "parameter_error", "Fitter", "fit_to_images"]

ROUGHNESS_RANGE = (0.01, 1.0)
"""The GGX alpha is clamped to this range after every step."""


@dataclasses.dataclass
class Truth:
    """Known parameters of a synthetic target, for parameter errors.

    envmap: (H, W, C) float or None; roughness: float or None; weights: (H, W) float >= 0,
    the texels' visibility (``fit.refresh.sensitivity_weights``), or None.
    """

    envmap: np.ndarray | None = None
    roughness: float | None = None
    weights: np.ndarray | None = None


@dataclasses.dataclass
class FitResult:
    """envmap: (H, W, C) float32 >= 0; roughness: fitted GGX alpha (or the fixed one);
    history: per-iteration lists 'loss' (estimate), 'time_s' (cumulative wall seconds after
    the step), 'cpu_s' (cumulative CPU seconds of this process, all threads: robust on a
    shared machine), and with a truth 'envmap_rmse', 'envmap_rmse_weighted', 'roughness_error'."""

    envmap: np.ndarray
    roughness: float | None
    history: dict[str, list[float]]
    time_s: float
    pixels_per_iteration: int


def _gray(E: np.ndarray, channels: int) -> np.ndarray:
    E = np.asarray(E, np.float64)
    if E.ndim == 2:
        E = E[..., None]
    if E.shape[2] == channels:
        return E
    return E.mean(axis=2, keepdims=True) if channels == 1 else np.repeat(E[..., :1], 3, axis=2)


def parameter_error(envmap: np.ndarray, roughness: float | None, truth: Truth | None) -> dict:
    """Errors against the truth: envmap RMSE over all texels, RMSE weighted by the texels'
    visibility, and |roughness - truth|. Missing truths give no entry."""
    out: dict[str, float] = {}
    if truth is None:
        return out
    if truth.envmap is not None:
        E = np.asarray(envmap, np.float64)
        T = _gray(truth.envmap, E.shape[2])
        if T.shape != E.shape:
            raise InputError("truth_envmap", f"shape {T.shape[:2]} differs from the fitted "
                                             f"map {E.shape[:2]}")
        d2 = np.mean((E - T) ** 2, axis=2)
        out["envmap_rmse"] = float(np.sqrt(d2.mean()))
        if truth.weights is not None:
            w = np.asarray(truth.weights, np.float64)
            out["envmap_rmse_weighted"] = float(np.sqrt(np.sum(w * d2) / max(w.sum(), 1e-30)))
    if truth.roughness is not None and roughness is not None:
        out["roughness_error"] = float(abs(roughness - truth.roughness))
    return out


class Fitter:
    """One fit, advanced one Adam step at a time (``step``), so that several fits can be
    interleaved (benchmarks on a shared machine). Arguments as for ``fit_to_images``."""

    def __init__(self, renderer, targets: np.ndarray, envmap0: np.ndarray,
                 roughness0: float | None, config: FitConfig, truth: Truth | None = None):
        config.validate()
        V = renderer.n_views
        h, w = renderer.image_shape
        targets = np.asarray(targets, np.float64)
        if targets.shape != (V, h, w, 3):
            raise InputError("targets", f"expected {V} image(s) of {w} x {h} pixels, got "
                                        f"array shape {targets.shape}")
        self.renderer, self.config, self.truth = renderer, config, truth
        self.targets_flat = targets.reshape(-1, 3)
        self.sampler = make_sampler(config.sampling, (V, h, w), config.budget,
                                    floor=config.floor, refresh=config.refresh,
                                    levels=config.levels, level_base=config.level_base)
        E = np.maximum(np.asarray(envmap0, np.float64), 0.0)
        self.E = E[..., None] if E.ndim == 2 else E
        self.r = None if roughness0 is None else float(np.clip(roughness0, *ROUGHNESS_RANGE))
        # one Adam, each parameter with its own moments and learning rate
        self.adam = Adam({"envmap": config.lr, "roughness": config.lr_roughness or config.lr})
        self.rng = np.random.default_rng([int(config.seed), 0x51AB])
        self.history: dict[str, list[float]] = {"loss": [], "time_s": [], "cpu_s": []}
        self.k = 0
        self._wall = self._cpu = 0.0
        if config.cost_aware and self.sampler.needs_maps:
            t0, c0 = time.perf_counter(), time.process_time()
            self.sampler.set_cost(renderer.pixel_cost(self.E.astype(np.float32), self.r,
                                                      seed=config.seed))
            self._wall += time.perf_counter() - t0  # the measurement counts in the time
            self._cpu += time.process_time() - c0

    @property
    def pixels_per_iteration(self) -> int:
        """Pixels rendered per iteration: all n for ``full`` sampling, else K."""
        return int(self.sampler.n if self.config.sampling == "full" else self.sampler.k)

    def step(self) -> float:
        """One iteration (refresh when due, render, backprop, Adam, clamp); the loss estimate."""
        cfg, R, k = self.config, self.renderer, self.k
        t0, c0 = time.perf_counter(), time.process_time()
        if self.sampler.needs_refresh(k):
            scale = None
            if cfg.precondition and self.adam.t > 0:
                scale = {"envmap": self.adam.inverse_scale("envmap"),
                         "roughness": self.adam.inverse_scale("roughness")}
            refresh_maps(R, self.sampler, self.E.astype(np.float32), self.r, self.targets_flat,
                         cfg, k, scale)
        idx, weights = self.sampler.draw(self.rng)
        I = R.render(idx, self.E.astype(np.float32), self.r, seed=stream_seed(cfg.seed, k),
                     grad=True)
        ell, g = image_loss(cfg.loss, I, self.targets_flat[idx], R.n_pixels)
        grads = R.backprop(g * weights[:, None])
        loss = float(np.sum(ell * weights))
        values, gradients = {}, {}
        if "envmap" in cfg.params:
            gE = np.asarray(grads["envmap"], np.float64).reshape(self.E.shape)
            if not np.isfinite(gE).all():
                raise FloatingPointError(f"non-finite envmap gradient at iteration {k}")
            values["envmap"], gradients["envmap"] = self.E, gE
        if "roughness" in cfg.params:
            values["roughness"] = np.float64(self.r)
            gradients["roughness"] = float(grads["roughness"])
        new = self.adam.step(values, gradients)
        if "envmap" in new:
            self.E = np.maximum(new["envmap"], 0.0)
        if "roughness" in new:
            self.r = float(np.clip(new["roughness"], *ROUGHNESS_RANGE))
        self._wall += time.perf_counter() - t0
        self._cpu += time.process_time() - c0
        h = self.history
        h["loss"].append(loss)
        h["time_s"].append(self._wall)
        h["cpu_s"].append(self._cpu)
        for key, value in parameter_error(self.E, self.r, self.truth).items():
            h.setdefault(key, []).append(value)
        self.k += 1
        return loss

    def result(self) -> FitResult:
        """The fit so far: the current light and roughness, history and time."""
        return FitResult(envmap=self.E.astype(np.float32), roughness=self.r,
                         history=self.history, time_s=self._wall,
                         pixels_per_iteration=self.pixels_per_iteration)


def fit_to_images(renderer, targets: np.ndarray, envmap0: np.ndarray,
                  roughness0: float | None, config: FitConfig, truth: Truth | None = None,
                  progress: bool = False,
                  callback: Callable[[int, np.ndarray, float | None, float], None] | None = None
                  ) -> FitResult:
    """Fit the light (and roughness) so the renders match ``targets``.

    Args:
        renderer: a ``SubsetRenderer`` over the V views, differentiating ``config.params``.
        targets: (V, h, w, 3) linear RGB target images, one per view.
        envmap0: (H, W, C) initial light (C = 1 gray or 3), float >= 0.
        roughness0: initial GGX alpha (used also when the roughness is not fitted).
        config: the settings.
        truth: known parameters for the per-iteration parameter error (optional).
        progress: show a progress bar.
        callback: ``callback(k, E, alpha, loss)`` after each step.
    """
    from tqdm.auto import tqdm

    fitter = Fitter(renderer, targets, envmap0, roughness0, config, truth)
    bar = tqdm(range(config.iterations), desc=f"fit ({config.sampling})", unit="it",
               disable=not progress, dynamic_ncols=True)
    for k in bar:
        loss = fitter.step()
        bar.set_postfix(loss=f"{loss:.4g}")
        if callback is not None:
            callback(k, fitter.E, fitter.r, loss)
    bar.close()
    return fitter.result()

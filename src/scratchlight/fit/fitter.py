"""Fitting the light and the roughness of a height-map scene to target images.

Method. Minimise an image loss between renders I(theta) and targets T over the parameters
theta = (envmap E, GGX roughness alpha) with Adam, clamping E >= 0 and alpha to
[0.01, 1] after every step. Each iteration renders only K pixels drawn by a pixel sampler
(``fit.sampling``; ``full`` renders every pixel) and estimates the gradient without
bias as

    dL/dtheta ~= sum_k w_k (dL/dI_jk)(I_jk) * dI_jk/dtheta,    w_k = 1 / (K p_jk),

where the primal values I_jk that dL/dI is computed from and the adjoint pass that gives
dI/dtheta use independent seeds (``engines.subset``). Losses, per pixel j of the n pixels
of all views and its 3 channels c (both separable, so dL/dI_j depends on pixel j only):

    l2:      L = 1/(3n) sum_jc (I_jc - T_jc)^2
    rel-l2:  L = 1/(3n) sum_jc (I_jc - T_jc)^2 / (T_jc^2 + 0.01)

The adapted samplers are refreshed every ``refresh`` iterations from a low-resolution pass
(``SubsetRenderer.block_samples``): pairs of independent block estimates give p1 =
E[sum_c (dL/dI_jc)^2] and, through forward-mode Rademacher projections, p2, both rescaled
to the iteration's spp (``sampling.second_moment``). Refresh passes count in the measured time.
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable

import numpy as np

from ..errors import InputError
from .sampling import SAMPLINGS, make_sampler, second_moment

__all__ = [
    "LOSSES", "FitConfig", "FitResult", "Fitter", "Truth", "image_loss", "fit_to_images",
    "parameter_error", "sensitivity_weights", "read_target_image", "ROUGHNESS_RANGE",
]

LOSSES = ("l2", "rel-l2")
REL_EPS = 1e-2
ROUGHNESS_RANGE = (0.01, 1.0)


def image_loss(name: str, image: np.ndarray, target: np.ndarray, n_pixels: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel loss terms and their gradient.

    Args:
        name: 'l2' or 'rel-l2'.
        image, target: (K, 3) linear RGB values of K pixels.
        n_pixels: n, the number of pixels of the full loss (all views).
    Returns:
        ell: (K,) float64, the pixels' terms (the full loss is their sum over all n pixels).
        dL_dI: (K, 3) float64, d ell_j / d I_j.
    """
    I = np.asarray(image, np.float64).reshape(-1, 3)
    T = np.asarray(target, np.float64).reshape(-1, 3)
    r = I - T
    if name == "l2":
        scale = np.ones_like(T)
    elif name == "rel-l2":
        scale = 1.0 / (T * T + REL_EPS)
    else:
        raise InputError("--loss", f"expected one of {', '.join(LOSSES)}, got {name!r}")
    c = 1.0 / (3.0 * n_pixels)
    return c * np.sum(scale * r * r, axis=1), 2.0 * c * scale * r


@dataclasses.dataclass
class FitConfig:
    """How to fit. Saved in run.json."""

    params: tuple[str, ...] = ("envmap", "roughness")
    """Parameters to fit: envmap and/or roughness."""
    sampling: str = "adaptive"
    """Pixel sampling: full, uniform, grad (|dL/dI|) or adaptive."""
    budget: float = 0.125
    """Fraction of all pixels (of all views) rendered per iteration (ignored by full)."""
    iterations: int = 200
    """Adam steps."""
    lr: float = 0.02
    """Adam learning rate of the envmap."""
    lr_roughness: float | None = None
    """Adam learning rate of the roughness (None: same as lr)."""
    loss: str = "l2"
    """Image loss: l2 or rel-l2."""
    spp: int = 8
    """Samples per rendered pixel per iteration (primal and adjoint each)."""
    seed: int = 0
    """Seed of every random choice (pixels, render seeds)."""
    refresh: int = 20
    """Iterations between refreshes of the grad/adaptive sampling maps."""
    floor: float = 0.1
    """Uniform mixing weight of the adapted samplers (every p > 0)."""
    levels: int = 4
    """Pyramid levels D of the adaptive sampler."""
    level_base: float = 4.0
    """Level weight base of the adaptive sampler's pyramid (weight base**d)."""
    refresh_factor: int = 2
    """Block size (resolution divisor) of the refresh pass."""
    refresh_spp: int = 2
    """Samples per block per direction of the refresh pass."""
    refresh_pairs: int = 4
    """Pairs of renders (one Rademacher direction each) of the refresh pass."""
    precondition: bool = False
    """Weight p2's parameter terms by Adam's 1/v (the variance of the update, not of the
    raw gradient); False is the method as published."""
    cost_aware: bool = False
    """Divide the adapted importance by sqrt(measured per-pixel render cost), minimising
    variance x time (pixels that see the surface cost several times more than background
    ones); False is the method as published."""

    def validate(self) -> None:
        """Raise InputError (naming the option) for a value no run can use."""
        from .sampling import check_budget

        bad = set(self.params) - {"envmap", "roughness"}
        if bad or not self.params:
            raise InputError("--params", f"expected envmap and/or roughness, got {','.join(self.params)!r}")
        if self.sampling not in SAMPLINGS:
            raise InputError("--sampling", f"expected one of {', '.join(SAMPLINGS)}, got {self.sampling!r}")
        check_budget(self.budget)
        if self.loss not in LOSSES:
            raise InputError("--loss", f"expected one of {', '.join(LOSSES)}, got {self.loss!r}")
        for opt, ok, what in (
            ("--iterations", self.iterations >= 1, "at least 1"),
            ("--lr", self.lr > 0, "positive"),
            ("--lr-roughness", self.lr_roughness is None or self.lr_roughness > 0, "positive"),
            ("--spp", self.spp >= 1, "at least 1"),
            ("--refresh", self.refresh >= 1, "at least 1"),
            ("--refresh-pairs", self.refresh_pairs >= 1, "at least 1"),
            ("--refresh-spp", self.refresh_spp >= 1, "at least 1"),
            ("--floor", 0 < self.floor <= 1, "in (0, 1]"),
        ):
            if not ok:
                raise InputError(opt, f"must be {what}")


@dataclasses.dataclass
class Truth:
    """Known parameters of a synthetic target, for parameter errors.

    envmap: (H, W, C) float or None; roughness: float or None; weights: (H, W) float >= 0,
    the texels' visibility (``sensitivity_weights``), or None.
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
            raise InputError("--truth-envmap", f"shape {T.shape[:2]} differs from the fitted "
                                               f"map {E.shape[:2]}")
        d2 = np.mean((E - T) ** 2, axis=2)
        out["envmap_rmse"] = float(np.sqrt(d2.mean()))
        if truth.weights is not None:
            w = np.asarray(truth.weights, np.float64)
            out["envmap_rmse_weighted"] = float(np.sqrt(np.sum(w * d2) / max(w.sum(), 1e-30)))
    if truth.roughness is not None and roughness is not None:
        out["roughness_error"] = float(abs(roughness - truth.roughness))
    return out


def sensitivity_weights(renderer, envmap: np.ndarray, roughness: float | None = None,
                        spp: int = 16, seed: int = 0) -> np.ndarray:
    """(H, W) float64: sum over all pixels and channels of dI/dE_k, the visibility of each
    texel in the views (one full render and adjoint pass)."""
    E = np.asarray(envmap, np.float32)
    n = renderer.n_pixels
    renderer.render(np.arange(n), E, roughness, seed=seed, spp=spp, grad=True)
    had = renderer.param_names
    if "envmap" not in had:
        raise ValueError("the renderer does not differentiate the envmap")
    g = renderer.backprop(np.ones((n, 3)))["envmap"]
    return np.maximum(np.asarray(g).reshape(E.shape[0], E.shape[1], -1).sum(axis=2), 0.0)


def read_target_image(path: str | os.PathLike) -> np.ndarray:
    """A target image as linear RGB float32 (h, w, 3): EXR/HDR linear, PNG/JPEG sRGB."""
    from ..io import read_envmap

    try:
        return read_envmap(path)
    except InputError as e:
        raise InputError(e.path, e.problem.replace("environment-map", "image")
                         .replace("environment map", "image")) from None


class _Adam:
    """Adam (beta1 0.9, beta2 0.999, eps 1e-8) on one NumPy array."""

    def __init__(self, lr: float):
        self.lr, self.t, self.m, self.v = float(lr), 0, 0.0, 0.0

    def step(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * g
        self.v = 0.999 * self.v + 0.001 * g * g
        m_hat = self.m / (1 - 0.9 ** self.t)
        v_hat = self.v / (1 - 0.999 ** self.t)
        return x - self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)

    def inverse_scale(self):
        """1 / (sqrt(v_hat) + 0.01 max sqrt(v_hat)): how far a unit of gradient moves the
        parameter (Adam's preconditioner, kept finite for parameters seldom seen)."""
        if self.t == 0:
            return 1.0
        rms = np.sqrt(np.asarray(self.v, np.float64) / (1 - 0.999 ** self.t))
        return 1.0 / (rms + 0.01 * float(np.max(rms)) + 1e-30)


def _seed(seed: int, iteration: int, stream: int = 0) -> int:
    return (int(seed) * 1_000_003 + int(iteration) * 4 + stream) % (2 ** 30)


def refresh_maps(renderer, sampler, envmap, roughness, targets_flat, config: FitConfig,
                 iteration: int, scale: dict | None = None) -> None:
    """Re-estimate p1 (and p2) with the cheap pass and update ``sampler``; ``scale``
    weights the parameters in p2 (see ``SubsetRenderer.block_samples``)."""
    primal, jvp = renderer.block_samples(
        envmap, roughness, factor=config.refresh_factor, spp=config.refresh_spp,
        pairs=config.refresh_pairs, seed=_seed(config.seed, iteration, 3), scale=scale,
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
            raise InputError("--target", f"expected {V} image(s) of {w} x {h} pixels, got "
                                         f"array shape {targets.shape}")
        self.renderer, self.config, self.truth = renderer, config, truth
        self.targets_flat = targets.reshape(-1, 3)
        self.sampler = make_sampler(config.sampling, (V, h, w), config.budget,
                                    floor=config.floor, refresh=config.refresh,
                                    levels=config.levels, level_base=config.level_base)
        E = np.maximum(np.asarray(envmap0, np.float64), 0.0)
        self.E = E[..., None] if E.ndim == 2 else E
        self.r = None if roughness0 is None else float(np.clip(roughness0, *ROUGHNESS_RANGE))
        self.adam_E = _Adam(config.lr)
        self.adam_r = _Adam(config.lr_roughness or config.lr)
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
        return int(self.sampler.n if self.config.sampling == "full" else self.sampler.k)

    def step(self) -> float:
        """One iteration (refresh when due, render, backprop, Adam, clamp); the loss estimate."""
        cfg, R, k = self.config, self.renderer, self.k
        t0, c0 = time.perf_counter(), time.process_time()
        if self.sampler.needs_refresh(k):
            scale = None
            if cfg.precondition and max(self.adam_E.t, self.adam_r.t) > 0:
                scale = {"envmap": self.adam_E.inverse_scale(),
                         "roughness": self.adam_r.inverse_scale()}
            refresh_maps(R, self.sampler, self.E.astype(np.float32), self.r, self.targets_flat,
                         cfg, k, scale)
        idx, weights = self.sampler.draw(self.rng)
        I = R.render(idx, self.E.astype(np.float32), self.r, seed=_seed(cfg.seed, k), grad=True)
        ell, g = image_loss(cfg.loss, I, self.targets_flat[idx], R.n_pixels)
        grads = R.backprop(g * weights[:, None])
        loss = float(np.sum(ell * weights))
        if "envmap" in cfg.params:
            gE = np.asarray(grads["envmap"], np.float64).reshape(self.E.shape)
            if not np.isfinite(gE).all():
                raise FloatingPointError(f"non-finite envmap gradient at iteration {k}")
            self.E = np.maximum(self.adam_E.step(self.E, gE), 0.0)
        if "roughness" in cfg.params:
            self.r = float(np.clip(self.adam_r.step(np.float64(self.r), float(grads["roughness"])),
                                   *ROUGHNESS_RANGE))
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

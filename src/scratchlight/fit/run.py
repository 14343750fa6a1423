"""A whole fit run, from a ``FitRunConfig`` to a results folder (``scratchlight fit``).

Steps: read the target images (their size sets the render resolution) and the true light,
read and prepare the surface and build one scene per camera (a ``Session`` and its views;
the subset renderer comes from the session's engine pool), fit (``fitter.fit_to_images``),
render the fitted light at ``final_spp`` and write into ``out_dir``:

- ``envmap.exr``: the fitted light, linear float (gray maps: three equal channels);
- ``envmap.png``: its preview;
- ``fitted.png``: the views under the fitted light, side by side;
- ``loss.png``: loss per iteration (and parameter errors over time with a truth);
- ``run.json``: ``"command": "fit"``, ``"config"`` (the ``FitRunConfig``, so that
  ``scratchlight fit --config run.json`` repeats the run), ``"variant"``, ``"views"`` (the
  cameras), ``"image_size"`` [w, h], ``"envmap_size"`` [H, W], ``"result"`` (the fitted
  roughness, time, pixels per iteration, image RMSE, final loss, parameter errors),
  ``"history"`` (per iteration) and ``"wall_s"``.

Nothing is written unless the config, the targets and the surface are usable.
"""
from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from ..config import config_to_dict
from ..errors import InputError
from .cameras import parse_cameras
from .config import FitRunConfig
from .fitter import FitResult, Truth, fit_to_images, parameter_error
from .plots import plot_fit_history
from .refresh import sensitivity_weights
from .targets import read_targets

__all__ = ["FitRun", "run_fit", "TRUTH_WEIGHTS_SEED_OFFSET", "FINAL_RENDER_SEED_OFFSET"]

# Seeds of the renders outside the fit's iterations, as offsets from ``fit.seed``.
TRUTH_WEIGHTS_SEED_OFFSET = 17
"""Seed offset of the visibility weights of the true light (``sensitivity_weights``)."""
FINAL_RENDER_SEED_OFFSET = 99991
"""Seed offset of the final render of the fitted light."""


@dataclasses.dataclass
class FitRun:
    """What ``run_fit`` did."""

    config: FitRunConfig
    """The config as run (paths absolute), as saved in run.json."""
    result: FitResult
    """The fitted light and roughness, with the per-iteration history."""
    fitted: np.ndarray
    """(V, h, w, 3) float32 linear RGB: the views under the fitted light at ``final_spp``."""
    summary: dict
    """run.json's ``"result"``: roughness, time_s, pixels_per_iteration, pixels_total,
    image_rmse (of ``fitted`` against the targets), final_loss, errors (parameter errors)."""
    variant: str
    """The Mitsuba variant that rendered (llvm_ad_rgb or cuda_ad_rgb)."""
    out_dir: str
    """The results folder (absolute)."""


def _truth(cfg: FitRunConfig, renderer, truth_envmap: np.ndarray | None) -> Truth | None:
    """The known parameters of the run, with the texels' visibility weights when the light
    is both known and fitted (one extra full render and adjoint pass)."""
    if truth_envmap is None and cfg.truth_roughness is None:
        return None
    weights = None
    if truth_envmap is not None and "envmap" in cfg.fit.params:
        gray = truth_envmap.mean(axis=2, keepdims=True) if cfg.channels == 1 else truth_envmap
        weights = sensitivity_weights(renderer, gray, cfg.truth_roughness or cfg.roughness,
                                      spp=cfg.fit.spp,
                                      seed=cfg.fit.seed + TRUTH_WEIGHTS_SEED_OFFSET)
    return Truth(envmap=truth_envmap, roughness=cfg.truth_roughness, weights=weights)


def _session(cfg: FitRunConfig, cams, size: tuple[int, int], E0: np.ndarray):
    """The session of the fit's surface seen by its first camera at ``size`` (w, h) under
    E0 (the other views are its ``view_scene``s); the scene's InputErrors name the fit's
    own fields."""
    from ..scene import SceneSpec
    from ..session import Session

    spec = SceneSpec(material=cfg.material, roughness=cfg.roughness,
                     exaggeration=cfg.exaggeration, camera=cams[0], width=size[0],
                     height=size[1], max_depth=cfg.max_depth)
    try:
        return Session(cfg.surface, spec, device=cfg.device, envmap=E0)
    except InputError as e:
        if not (e.path or "").startswith("scene."):
            raise
        field = {"scene.width": "targets", "scene.camera": "cameras",
                 "scene.camera.preset": "cameras"}.get(e.path, e.path[len("scene."):])
        raise InputError(field, e.problem) from None
    except ValueError as e:
        raise InputError("material", str(e)) from None


def run_fit(cfg: FitRunConfig, out_dir: str | os.PathLike, progress: bool = False) -> FitRun:
    """Run the fit ``cfg`` and write its results into ``out_dir`` (created if missing).

    Args:
        cfg: the run; relative paths are taken from the current folder.
        out_dir: results folder; an existing file there is an error.
        progress: show a progress bar.
    Raises:
        InputError naming the dotted config field (``fit.budget``, ``cameras``, ...) or the
        file at fault.
    """
    from ..io import read_envmap, write_exr, write_png
    from ..io.atomic import write_json
    from ..optimize.init import initial_envmap
    from ..report.figures import write_envmap_preview

    cfg = cfg.absolute_paths()
    cfg.validate()
    fit = cfg.fit
    out = os.path.abspath(out_dir)
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(os.fspath(out_dir), "the output folder is a file")
    H, W = cfg.envmap_size
    targets = read_targets(cfg.targets)
    V, h, w = targets.shape[:3]
    truth_E = None
    if cfg.truth_envmap:
        truth_E = read_envmap(cfg.truth_envmap)
        if truth_E.shape[:2] != (H, W):
            raise InputError(cfg.truth_envmap, f"size {truth_E.shape[1]} x {truth_E.shape[0]} "
                                               f"differs from the envmap size {H}x{W}")
    E0 = initial_envmap(cfg.init, (H, W), cfg.channels, seed=fit.seed)
    cams = parse_cameras(cfg.cameras, cfg.fov, V)
    session = _session(cfg, cams, (w, h), E0)
    variant = session.variant
    renderer = session.subset_renderer(cams, spp=fit.spp, params=fit.params)
    truth = _truth(cfg, renderer, truth_E)

    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    result = fit_to_images(renderer, targets, E0, cfg.roughness, fit, truth=truth,
                           progress=progress)
    fitted = renderer.render_views(result.envmap, result.roughness,
                                   seed=fit.seed + FINAL_RENDER_SEED_OFFSET, spp=cfg.final_spp)
    write_exr(os.path.join(out, "envmap.exr"), result.envmap)
    write_envmap_preview(os.path.join(out, "envmap.png"), np.clip(result.envmap, 0, None))
    write_png(os.path.join(out, "fitted.png"), np.concatenate(list(fitted), axis=1))
    plot_fit_history(os.path.join(out, "loss.png"), result.history,
                     f"fit: {fit.sampling} sampling, budget {fit.budget:g}, {fit.loss}")
    rmse = float(np.sqrt(np.mean((fitted.astype(np.float64) - targets) ** 2)))
    summary = {
        "roughness": result.roughness,
        "time_s": result.time_s,
        "pixels_per_iteration": result.pixels_per_iteration,
        "pixels_total": int(V * h * w),
        "image_rmse": rmse,
        "final_loss": result.history["loss"][-1],
        "errors": parameter_error(result.envmap, result.roughness, truth),
    }
    doc = {"command": "fit", "config": config_to_dict(cfg), "variant": variant,
           "views": [dataclasses.asdict(c) for c in cams], "image_size": [w, h],
           "envmap_size": [H, W], "result": summary, "history": result.history,
           "wall_s": time.perf_counter() - t0}
    write_json(os.path.join(out, "run.json"), doc)
    return FitRun(config=cfg, result=result, fitted=fitted, summary=summary, variant=variant,
                  out_dir=out)

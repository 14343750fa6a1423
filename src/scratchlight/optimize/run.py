"""A whole optimization run from a config to a results folder.

Writes into ``out_dir``: ``envmap.exr`` (linear float RGB; gray maps have three equal
channels), ``envmap.png`` (preview), ``envmap_initial.exr`` (the initial map E0), ``before.png`` / ``after.png`` (the initial and the
optimized light, both rendered after the optimization at ``final_spp`` with the same camera
and seed by Mitsuba's path tracer), ``before.exr`` / ``after.exr``, ``mask.png`` (the pixels
that counted), ``compare.png`` (side by side), ``loss.png`` and ``run.json`` (the config, the
per-iteration loss, ``time_s``, library versions and ``objective_before`` /
``objective_after`` measured on the high-spp renders, and ``final_render_seed``, the seed of
those renders).
"""
from __future__ import annotations

import json
import os
import platform
import time

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path
from .config import OptimizeConfig

__all__ = ["prepare_run", "run_optimization", "objective_mask", "library_versions"]

# Final renders use seeds of their own, never used by the loop's iterations.
FINAL_RENDER_SEED = 987_654


def library_versions() -> dict[str, str]:
    import drjit
    import mitsuba
    import scipy

    from .. import __version__

    return {"scratchlight": __version__, "mitsuba": mitsuba.__version__,
            "drjit": drjit.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def _scene_spec(cfg: OptimizeConfig):
    from ..scene import CameraSpec, SceneSpec

    cam = CameraSpec(preset=cfg.camera, elevation_deg=cfg.elevation, azimuth_deg=cfg.azimuth,
                     fov_deg=cfg.fov, origin=cfg.camera_origin, target=tuple(cfg.camera_target))
    return SceneSpec(material=cfg.material, roughness=cfg.roughness, exaggeration=cfg.exaggeration,
                     camera=cam, width=cfg.width, height=cfg.height, max_depth=cfg.max_depth)


def objective_mask(cfg: OptimizeConfig, scene, original_shape, crop=None) -> np.ndarray:
    """The mask M in image space: object mask, intersected with the scratch map or a user
    region (a PNG in the height-map file's grid, carried through crop and resampling)."""
    from ..io.images import read_png_mask
    from ..surface.prepare import resample_mask
    from ..surface.scratchmap import scratch_map

    M = scene.object_mask.copy()
    if cfg.mask == "object":
        return M
    hm = scene.heightmap
    if cfg.mask == "scratch":
        cells = scratch_map(hm.heights, cfg.scratch_kernel, cfg.scratch_patch, cfg.scratch_threshold)
    else:
        roi = read_png_mask(cfg.mask)
        if roi.shape != tuple(original_shape):
            raise InputError(cfg.mask, f"mask is {roi.shape[1]} x {roi.shape[0]} but the height "
                                       f"map is {original_shape[1]} x {original_shape[0]}")
        if crop is not None:
            x0, y0, nx, ny = crop
            roi = roi[y0:y0 + ny, x0:x0 + nx]
        cells = resample_mask(roi, hm.shape)
    M &= scene.cell_mask_to_image(cells)
    if M.sum() < 4:
        raise InputError(cfg.mask if cfg.mask not in ("scratch",) else "--mask",
                         "the mask leaves fewer than 4 surface pixels in the image")
    return M


def prepare_run(cfg: OptimizeConfig):
    """Read and prepare the surface, build the scene, the mask and the initial map."""
    from .._backend import use_device
    from ..io import read_heightmap
    from ..scene import build_scene
    from ..surface import prepare
    from .init import initial_envmap

    cfg.validate()
    try:
        use_device(cfg.device)
    except RuntimeError as e:
        raise InputError("--device", str(e)) from None
    raw = read_heightmap(cfg.heightmap)
    hm = prepare(raw, level=cfg.level, crop_box=cfg.crop,
                 max_size=cfg.max_size if cfg.max_size and cfg.max_size > 0 else None)
    scene = build_scene(hm, _scene_spec(cfg), spp=cfg.spp)
    if not scene.object_mask.any():
        raise InputError(cfg.heightmap, "the surface covers no pixel of the image; check the camera")
    mask = objective_mask(cfg, scene, raw.shape, cfg.crop)
    E0 = initial_envmap(cfg.init, tuple(cfg.envmap_size), cfg.channels, seed=cfg.seed, scene=scene)
    return scene, mask, E0


def _write_json(path: str, data: dict) -> None:
    with atomic_path(path, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2)


def run_optimization(cfg: OptimizeConfig, out_dir: str, progress: bool = True) -> dict:
    """Run the optimization described by ``cfg`` and write the results into ``out_dir``.

    Returns the dictionary that is saved as ``run.json``.
    """
    from ..engines import ADEngine, make_engine
    from ..io import write_exr, write_png
    from ..objectives import scratch_objective
    from ..report.figures import plot_losses, side_by_side, write_envmap_preview
    from .loop import optimize_light

    t_start = time.perf_counter()
    scene, mask, E0 = prepare_run(cfg)
    lam = cfg.effective_lam
    t_engine = time.perf_counter()
    try:
        engine = make_engine(cfg.engine, scene, spp=cfg.spp, seed=cfg.seed)
    except ValueError as e:
        raise InputError("--engine", str(e)) from None
    engine_setup_s = time.perf_counter() - t_engine
    os.makedirs(out_dir, exist_ok=True)
    result = optimize_light(engine, E0, mask, lam=lam, l2_target=cfg.l2_target, lr=cfg.lr,
                            iterations=cfg.iterations, seed=cfg.seed, progress=progress)
    E = result.envmap
    judge = ADEngine(scene)
    renders, objectives = {}, {}
    for name, light in (("before", E0), ("after", E)):
        img = judge.render_progressive(light, cfg.final_spp, seed=FINAL_RENDER_SEED,
                                       progress=f"{name} ({cfg.final_spp} spp)" if progress else False)
        renders[name] = img
        obj = scratch_objective(img, light, mask, lam=lam, l2_target=cfg.l2_target)
        objectives[name] = {"loss": obj.loss, "l_grad": obj.l_grad, "l_l2": obj.l_l2,
                            "mean_gradient": obj.mean_gradient}
    write_exr(os.path.join(out_dir, "envmap.exr"), E)
    write_exr(os.path.join(out_dir, "envmap_initial.exr"), E0)
    write_envmap_preview(os.path.join(out_dir, "envmap.png"), E)
    for name, img in renders.items():
        write_png(os.path.join(out_dir, f"{name}.png"), img)
        write_exr(os.path.join(out_dir, f"{name}.exr"), img)
    write_png(os.path.join(out_dir, "mask.png"), mask)
    side_by_side(os.path.join(out_dir, "compare.png"),
                 [renders["before"], renders["after"], (mask * 255).astype(np.uint8)],
                 [f"before (L_grad {objectives['before']['l_grad']:.3g})",
                  f"after (L_grad {objectives['after']['l_grad']:.3g})", "mask M"])
    plot_losses(os.path.join(out_dir, "loss.png"), {"loss": result.loss},
                title=f"{cfg.iterations} iterations, lam = {lam:g}, {cfg.engine} engine")
    summary = {
        "config": cfg.to_dict(),
        "lam": lam,
        "loss": result.loss,
        "l_grad": result.l_grad,
        "l_l2": result.l_l2,
        "iterations_done": len(result.loss),
        "interrupted": result.interrupted,
        "time_s": result.time_s,
        "engine_setup_s": engine_setup_s,
        "total_time_s": time.perf_counter() - t_start,
        "final_render_seed": FINAL_RENDER_SEED,
        "objective_before": objectives["before"],
        "objective_after": objectives["after"],
        "exaggeration_used": float(scene.spec.exaggeration),
        "mask_pixels": int(mask.sum()),
        "image_shape": list(scene.image_shape),
        "heightmap_shape": list(scene.heightmap.shape),
        "versions": library_versions(),
    }
    _write_json(os.path.join(out_dir, "run.json"), summary)
    return summary

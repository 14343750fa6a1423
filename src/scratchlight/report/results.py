"""The results folder of an optimization run, the same for every front end.

``out_dir`` receives: ``envmap.exr`` (linear float RGB; gray maps have three equal
channels), ``envmap.png`` (preview), ``envmap_initial.exr`` (the initial map E0),
``before.png`` / ``after.png`` and ``.exr`` (the initial and the optimized light rendered at
``final_spp`` with the same camera and seed by Mitsuba's path tracer), ``mask.png`` (the
pixels that counted), ``compare.png`` (side by side), ``loss.png`` and ``run.json``: the
command, the nested config (``scratchlight optimize --config run.json`` repeats the run),
the per-iteration loss, times, library versions, ``objective_before`` /
``objective_after`` measured on the high-spp renders and ``final_render_seed``.
"""
from __future__ import annotations

import os
import platform

import numpy as np

from ..backend import cpu_threads
from ..io import write_exr, write_json, write_png
from .figures import plot_losses, side_by_side, write_envmap_preview

__all__ = ["write_optimization_results", "library_versions", "RESULT_FILES"]

RESULT_FILES = ("run.json", "envmap.exr", "envmap_initial.exr", "envmap.png", "before.exr",
                "after.exr", "before.png", "after.png", "mask.png", "compare.png", "loss.png")


def library_versions() -> dict[str, str]:
    """Versions of scratchlight and the libraries a result depends on."""
    import drjit
    import mitsuba
    import scipy

    from ..version import __version__

    return {"scratchlight": __version__, "mitsuba": mitsuba.__version__,
            "drjit": drjit.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def write_optimization_results(out_dir: str | os.PathLike, config, session, run, renders: dict,
                               objectives: dict, final_render_seed: int,
                               total_time_s: float | None = None,
                               phases_s: dict | None = None,
                               detectability: dict | None = None) -> dict:
    """Write the folder (see module docstring) and return the ``run.json`` dictionary.

    Args:
        config: the run's ``OptimizeConfig`` (anything with ``to_dict()``).
        session: the ``Session`` (for its scene facts); run: its ``OptimizationRun``.
        renders: ``{"before": image, "after": image}`` (h, w, 3) linear float32.
        objectives: ``{"before": {...}, "after": {...}}`` objective terms of those renders.
        total_time_s: wall time from loading the surface to the end, seconds.
        phases_s: wall seconds of each step (``Session.phases``: start, read, scene,
            engine_choice, engine_build, iterations, judge_before, judge_after); ``write``,
            the writing of this folder but for ``run.json`` itself, is added.
        detectability: d' of the optimized light against the surface's defect-free twin
            (``report.twin``), or None.
    """
    import time

    t0 = time.perf_counter()
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    E, mask, light = run.envmap, run.mask, run.light
    write_exr(os.path.join(out_dir, "envmap.exr"), E)
    write_exr(os.path.join(out_dir, "envmap_initial.exr"), run.initial_envmap)
    write_envmap_preview(os.path.join(out_dir, "envmap.png"), E)
    for name, img in renders.items():
        write_png(os.path.join(out_dir, f"{name}.png"), img)
        write_exr(os.path.join(out_dir, f"{name}.exr"), img)
    write_png(os.path.join(out_dir, "mask.png"), mask)
    side_by_side(os.path.join(out_dir, "compare.png"),
                 [renders["before"], renders["after"], (mask * 255).astype(np.uint8)],
                 [f"before (L_grad {objectives['before']['l_grad']:.3g})",
                  f"after (L_grad {objectives['after']['l_grad']:.3g})", "mask M"])
    plot_losses(os.path.join(out_dir, "loss.png"), {"loss": run.loss},
                title=f"{run.iterations_done} iterations, lam = {light.effective_lam:g}, "
                      f"{run.engine} engine")
    scene = session.scene
    summary = {
        "command": "optimize",
        "config": config.to_dict(),
        "lam": light.effective_lam,
        "loss": run.loss,
        "l_grad": run.l_grad,
        "l_l2": run.l_l2,
        "iterations_done": run.iterations_done,
        "interrupted": run.interrupted,
        "stopped": run.stopped,
        "time_s": run.time_s,
        "engine": run.engine,
        "engine_choice": run.engine_choice,
        "engine_setup_s": run.engine_setup_s,
        "total_time_s": total_time_s,
        "phases_s": dict(phases_s or {}),
        "final_render_seed": final_render_seed,
        "objective_before": objectives["before"],
        "objective_after": objectives["after"],
        **({"detectability": detectability} if detectability is not None else {}),
        "exaggeration_used": float(scene.spec.exaggeration),
        "mask_pixels": int(mask.sum()),
        "image_shape": list(scene.image_shape),
        "heightmap_shape": list(scene.heightmap.shape),
        "device": session.variant,
        "cpu_threads": cpu_threads(),
        "versions": library_versions(),
    }
    summary["phases_s"]["write"] = round(time.perf_counter() - t0, 4)  # all but run.json
    write_json(os.path.join(out_dir, "run.json"), summary)
    return summary

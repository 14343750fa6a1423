"""Image-space adaptive pixel sampling (issue 6): gradient variance and fitting speed.

Two fit tasks recover a gray 16 x 32 environment map and the GGX roughness of a face-milled
surface (``surface.synthetic``, 128 x 128 points) from two target images (azimuths 0 and
180 degrees, ``--res`` squared pixels each, rendered at 256 spp). Truth: a dim sky with
bright strip lights and a black floor, roughness 0.15. Start: constant 0.5 map, roughness
0.3. Loss l2, 16 spp per rendered pixel, Adam lr 0.02, budget 1/8 of the pixels.

- ``photo``: cameras at 45 degrees elevation with a 20 degree field of view; every pixel
  sees the metal, so the light is seen only in reflection (photos of a prototype).
- ``probe``: low cameras (15 degrees, 40 degree field of view) that see the whole surface
  and the sky above it directly; 15 % of the pixels see the metal.

(0) Fixed cost per render: render + adjoint pass of 16 pixels up to all of them, with the
    primal and adjoint passes replayed as Dr.Jit frozen functions and traced, side by side.
(a) Gradient variance at equal budget: ``--evals`` (>= 256) gradient estimates per sampler
    at two parameter states (the start, and after ``--warm`` full iterations), samplers
    refreshed every 20 estimates as in a run. Reported: the trace of the covariance (all
    parameters), and its envmap and roughness parts, relative to uniform. Also the ceiling:
    the variance of the best possible distribution p ∝ sqrt(p1 p2), predicted from accurate
    full-resolution maps (``oracle_maps``, ``predicted_trace``).
(b) Fit: parameter error (visibility-weighted envmap RMSE, roughness error) against wall
    time (and CPU time of the process, robust when others share the machine) for full (100
    iterations), uniform, |dL/dI| and adaptive (500 iterations each) at budget 1/8; the time
    at which each reaches the full render's final error (median of its last 5 iterations;
    the run's error taken as a running median over 5 iterations). Each sampler first runs a
    short warm-up so JIT compilation is not timed, and the fits run interleaved (50 rounds)
    so that load from other processes on a shared machine hits every sampler alike.
(c) The scratch objective (L_grad, paper objective) with the ad engine: bias and variance of
    ``subset_scratch_gradient`` (pixel triples) against the full render's gradient.

Usage:
    .venv/bin/python benchmarks/sampling.py                       # everything (~30 min, 2 cores)
    .venv/bin/python benchmarks/sampling.py --part variance --task photo
    .venv/bin/python benchmarks/sampling.py --quick               # small sizes, a few minutes
    .venv/bin/python benchmarks/sampling.py --json out/sampling.json --plot out/sampling_fit.png
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from sampling_fit import fit_part
from sampling_tasks import BUDGET, TASKS, make_task
from sampling_variance import scratch_study, variance_study


def overhead_study(R, E, r, log, repeats: int = 7) -> dict:
    """Time of one render + adjoint pass (median of ``repeats``) for batches of 16 pixels up to
    all pixels, replayed (``dr.freeze``) and traced, side by side in one run."""
    from scratchlight.engines.subset import SubsetRenderer

    traced = SubsetRenderer(R.scenes, spp=R.spp, params=R.param_names, freeze=False)
    rng = np.random.default_rng(0)
    out = {}
    n = R.n_pixels
    for k in (16, 1024, int(round(BUDGET * n)), n):
        row = {}
        for label, renderer in (("frozen", R), ("traced", traced)):
            ts = []
            for i in range(repeats + 2):
                idx = rng.integers(0, n, k) if k < n else np.arange(n)
                t0 = time.perf_counter()
                renderer.render(idx, E, r, seed=i, grad=True)
                renderer.backprop(np.ones((k, 3)))
                ts.append(time.perf_counter() - t0)
            row[label] = float(np.median(ts[2:]))  # the first calls record / compile
        out[k] = row
        log(f"  {k:7d} pixels: frozen {1e3 * row['frozen']:8.1f} ms, traced "
            f"{1e3 * row['traced']:8.1f} ms ({row['traced'] / row['frozen']:.1f}x)")
    k8 = int(round(BUDGET * n))
    for label in ("frozen", "traced"):
        log(f"  all pixels / 1/8 of them: {label} {out[n][label] / out[k8][label]:.1f}x")
    return {str(k): v for k, v in out.items()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("all", "overhead", "variance", "fit", "scratch"),
                    default="all")
    ap.add_argument("--task", default=",".join(TASKS),
                    help="comma list of photo, probe, material (default all)")
    ap.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    ap.add_argument("--res", type=int, default=192)
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--evals", type=int, default=512)
    ap.add_argument("--warm", type=int, default=40, help="full iterations before state 'mid'")
    ap.add_argument("--full-iters", type=int, default=100)
    ap.add_argument("--fit-samplers", default="full,uniform,grad,adaptive",
                    help="also: adaptive-pre (Adam-preconditioned p2), adaptive-cost")
    ap.add_argument("--seeds", type=int, default=2, help="repetitions of the fit study")
    ap.add_argument("--subset-iters", type=int, default=500)
    ap.add_argument("--json", default="out/bench_sampling.json")
    ap.add_argument("--plot", default="out/bench_sampling_fit.png",
                    help="one plot per task: the task's name is added before the extension")
    a = ap.parse_args(argv)
    if a.quick:
        a.res, a.evals, a.warm, a.full_iters, a.subset_iters, a.seeds = 48, 64, 10, 30, 90, 1
    tasks = [t for t in a.task.split(",") if t]
    for t in tasks:
        if t not in TASKS:
            ap.error(f"--task: expected some of {', '.join(TASKS)}, got {t!r}")
    import scratchlight as sl

    variant = sl.use_device("auto")
    log = lambda s: print(s, flush=True)  # noqa: E731
    t_start = time.perf_counter()
    result = {"settings": {**vars(a), "budget": BUDGET, "variant": variant,
                           "cpu_count": os.cpu_count(), "loadavg_start": os.getloadavg()},
              "tasks": {}}
    for kind in tasks:
        task = make_task(kind, a.res, (16, 32), a.spp)
        R = task.R
        out = result["tasks"][kind] = {"pixels": R.n_pixels, "params": list(task.params),
                                       "metal_fraction": float(np.mean(
                                           [s.pixel_cell[..., 0] >= 0 for s in R.scenes]))}
        log(f"{kind} task: fit {' and '.join(task.params)}, 2 views of {a.res}^2 = "
            f"{R.n_pixels} pixels ({100 * out['metal_fraction']:.0f} % see the metal), budget "
            f"{BUDGET}, spp {a.spp}, {variant}")
        if a.part in ("all", "overhead") and kind != "material":
            log("fixed cost per render: render + adjoint pass, frozen vs traced")
            out["overhead"] = overhead_study(R, np.full_like(task.Et, 0.5), 0.3, log)
        if a.part in ("all", "variance"):
            from scratchlight.fit import FitConfig, fit_to_images

            warm = fit_to_images(R, task.target, task.E0, 0.3,
                                 FitConfig(sampling="full", iterations=a.warm, spp=a.spp,
                                           seed=1, params=task.params))
            states = {"start": (task.E0, 0.3), "mid": (warm.envmap, warm.roughness)}
            log(f"(a) gradient variance, {a.evals} estimates per sampler (mid: roughness "
                f"{warm.roughness:.3f})")
            out["variance"] = variance_study(R, task.target, states, a.evals, a.spp, log)
        if a.part in ("all", "fit"):
            log("(b) fit: parameter error against time")
            out["fit"] = fit_part(task, a, log)
        if a.part in ("all", "scratch") and kind == "probe":
            log("(c) scratch objective: subset L_grad gradient (pixel triples)")
            result["scratch"] = scratch_study(R, np.full_like(task.Et, 0.5), a.evals, a.spp, log)
    result["settings"]["loadavg_end"] = os.getloadavg()
    result["settings"]["wall_s"] = time.perf_counter() - t_start
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    from scratchlight.io.atomic import atomic_path

    with atomic_path(a.json, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(result, f, indent=1)
    log(f"wrote {a.json} ({result['settings']['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import dataclasses
import json
import os
import sys
import time

import numpy as np

BUDGET = 0.125
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


def _vec(g: dict) -> np.ndarray:
    """Gradient dict as one vector, the roughness last."""
    return np.concatenate([np.ravel(g[k]) for k in ("envmap", "roughness") if k in g])


def gradient_samples(R, target, E, r, name: str, n: int, spp: int, refresh: int = 20,
                     seed: int = 0) -> tuple[np.ndarray, float]:
    """n gradient estimates (n, P) of the l2 loss at (E, r) with sampler ``name``."""
    from scratchlight.fit import FitConfig, image_loss
    from scratchlight.fit.refresh import refresh_maps
    from scratchlight.fit.sampling import make_sampler

    V = R.n_views
    h, w = R.image_shape
    T = target.reshape(-1, 3)
    N = R.n_pixels
    S = make_sampler(name.split("-")[0], (V, h, w), BUDGET, refresh=refresh)
    if name.endswith("-cost"):
        S.set_cost(R.pixel_cost(E, r, seed=seed))
    cfg = FitConfig(spp=spp, seed=seed)
    rng = np.random.default_rng([seed, 77])
    out = []
    t0 = time.perf_counter()
    for k in range(n):
        if S.needs_refresh(k):
            refresh_maps(R, S, E, r, T, cfg, k)
        idx, wts = S.draw(rng)
        I = R.render(idx, E, r, seed=(seed * 100_003 + k) % 2 ** 30, spp=spp, grad=True)
        _, g = image_loss("l2", I, T[idx], N)
        out.append(_vec(R.backprop(g * wts[:, None])))
    return np.array(out), (time.perf_counter() - t0) / n


def oracle_maps(R, target, E, r, spp: int, renders: int = 16, seed: int = 0):
    """Accurate per-pixel maps at full resolution and the iteration's spp: p1 = E[|dL/dI_j|^2]
    from ``renders`` primal renders and p2 = sum_k E[(dI_j/dtheta_k)^2] from as many
    forward-mode renders along Rademacher directions. (V * h * w,) float64 each."""
    from scratchlight.fit import image_loss

    T = target.reshape(-1, 3)
    idx = np.arange(R.n_pixels)
    rng = np.random.default_rng([seed, 0x0AC1E])
    p1 = np.zeros(R.n_pixels)
    p2 = np.zeros(R.n_pixels)
    E = np.asarray(E, np.float32)
    for i in range(renders):
        v = {"envmap": rng.choice(np.array([-1.0, 1.0], np.float32), size=E.shape),
             "roughness": float(rng.choice([-1.0, 1.0]))}
        v = {k: x for k, x in v.items() if k in R.param_names}
        I, jv = R.directional_derivative(idx, E, r, v, seed=700_001 + 2 * i, spp=spp)
        p2 += np.sum(np.asarray(jv, np.float64) ** 2, axis=1) / renders
        I = R.render(idx, E, r, seed=700_002 + 2 * i, spp=spp)  # independent of jv
        p1 += np.sum(image_loss("l2", I, T, R.n_pixels)[1] ** 2, axis=1) / renders
    return p1, p2


def predicted_trace(p1, p2, p, k: int, mean_gradient) -> float:
    """Trace of the covariance of the K-pixel estimator with probabilities p (sampling with
    replacement, independent primal and adjoint): (sum_j p1_j p2_j / p_j - |G|^2) / K."""
    p = np.asarray(p, np.float64)
    ok = p > 0
    return float((np.sum(p1[ok] * p2[ok] / p[ok]) - np.sum(np.square(mean_gradient))) / k)


def variance_study(R, target, states: dict, n: int, spp: int, log) -> dict:
    from scratchlight.fit.sampling import budget_count

    res = {}
    k = budget_count(BUDGET, R.n_pixels)
    for label, (E, r) in states.items():
        rows = {}
        for name in SAMPLERS:
            m = n if name != "full" else max(32, n // 8)
            G, dt = gradient_samples(R, target, E, r, name, m, spp, seed=3)
            rows[name] = {"trace": float(G.var(0).sum()), "envmap": float(G[:, :-1].var(0).sum()),
                          "roughness": float(G[:, -1].var()), "evals": m, "s_per_eval": dt,
                          "mean_norm": float(np.linalg.norm(G.mean(0)))}
            if name == "full":
                mean_gradient = G.mean(0)
            log(f"  [{label}] {name:9s} trace {rows[name]['trace']:.3e}  envmap "
                f"{rows[name]['envmap']:.3e}  roughness {rows[name]['roughness']:.3e}  "
                f"({m} evals, {dt:.3f} s each)")
        u = rows["uniform"]
        for name, row in rows.items():
            for key in ("trace", "envmap", "roughness"):
                row[f"{key}_vs_uniform"] = row[key] / u[key] if u[key] > 0 else None
            # variance x time per estimate: what a fixed time budget sees
            row["trace_x_time_vs_uniform"] = (row["trace"] * row["s_per_eval"]
                                              / (u["trace"] * u["s_per_eval"]))
        # The ceiling: the best any pixel distribution can do, p ∝ sqrt(p1 p2) from
        # accurate maps, against uniform; the predicted uniform checks the formula.
        p1, p2 = oracle_maps(R, target, E, r, spp)
        q = np.sqrt(p1 * p2)
        pu = predicted_trace(p1, p2, np.full(q.size, 1.0 / q.size), k, mean_gradient)
        po = predicted_trace(p1, p2, q / q.sum(), k, mean_gradient)
        pg = np.sqrt(p1) / np.sqrt(p1).sum()
        rows["oracle"] = {"trace_vs_uniform": po / pu,
                          "grad_trace_vs_uniform": predicted_trace(p1, p2, pg, k, mean_gradient) / pu,
                          "predicted_uniform_vs_measured": pu / u["trace"]}
        log(f"  [{label}] oracle: optimal p {po / pu:.3f} of uniform, |dL/dI| with exact maps "
            f"{rows['oracle']['grad_trace_vs_uniform']:.3f}; predicted / measured uniform "
            f"{pu / u['trace']:.2f}")
        res[label] = rows
    return res


def _running_median(x, k=5):
    x = np.asarray(x, float)
    return np.array([np.median(x[max(0, i - k + 1):i + 1]) for i in range(len(x))])


def _fit_config(name: str, **kw):
    """'adaptive-pre': adaptive with Adam-preconditioned p2; 'adaptive-cost': adaptive with
    importance / sqrt(per-pixel cost)."""
    from scratchlight.fit import FitConfig

    if name == "adaptive-pre":
        return FitConfig(sampling="adaptive", precondition=True, budget=BUDGET, **kw)
    if name == "adaptive-cost":
        return FitConfig(sampling="adaptive", cost_aware=True, budget=BUDGET, **kw)
    return FitConfig(sampling=name, budget=BUDGET, **kw)


def fit_study(task: Task, names, iters: dict, spp: int, warmup: int, log, rounds: int = 50,
              seed: int = 5) -> dict:
    """Run the fits interleaved: in each of ``rounds`` rounds every sampler advances by
    1/rounds of its iterations (order rotated), so load changes on a shared machine hit
    all samplers alike. Each sampler first takes ``warmup`` untimed steps of a separate fit
    (JIT compilation)."""
    from scratchlight.fit import Fitter

    R, target = task.R, task.target
    fitters = {}
    for name in names:
        if warmup:
            w = Fitter(R, target, task.E0, 0.3, _fit_config(name, iterations=warmup, spp=spp,
                                                            seed=99, params=task.params))
            for _ in range(warmup):
                w.step()
        fitters[name] = Fitter(R, target, task.E0, 0.3,
                               _fit_config(name, iterations=iters[name], spp=spp, seed=seed,
                                           params=task.params),
                               task.truth())
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        for name in order:
            f = fitters[name]
            goal = iters[name] * (rnd + 1) // rounds
            while f.k < goal:
                f.step()
    runs = {}
    keys = task.error_keys
    for name in names:
        out = fitters[name].result()
        h = out.history
        runs[name] = {"iterations": iters[name], "time_s": h["time_s"], "cpu_s": h["cpu_s"],
                      "loss": h["loss"], **{key: h[key] for key in keys},
                      "s_per_iteration": out.time_s / iters[name],
                      "cpu_s_per_iteration": h["cpu_s"][-1] / iters[name],
                      "pixels_per_iteration": out.pixels_per_iteration,
                      "final_roughness": out.roughness}
        log(f"  {name:12s} {iters[name]} it, {out.time_s:.1f} s ({out.time_s / iters[name]:.3f} "
            f"s/it), " + ", ".join(f"{key} {h[key][0]:.4f} -> {np.median(h[key][-5:]):.4f}"
                                   for key in keys))
    full = runs["full"]
    for key in keys:
        goal = float(np.median(full[key][-5:]))
        for name, run in runs.items():
            sm = _running_median(run[key])
            hit = np.flatnonzero(sm <= goal)
            tail = run[key][-max(5, len(run[key]) // 5):]
            run[f"plateau_{key}"] = float(np.median(tail))
            # iterations are deterministic for a seed; times depend on the machine's load
            run[f"iterations_to_full_final_{key}"] = int(hit[0]) + 1 if hit.size else None
            for clock in ("time_s", "cpu_s"):
                t = float(run[clock][hit[0]]) if hit.size else None
                run[f"{clock}_to_full_final_{key}"] = t
                run[f"{clock}_fraction_{key}"] = None if t is None else t / full[clock][-1]
        full[f"goal_{key}"] = goal
    return runs


def plot_fit(path: str, runs: dict, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from scratchlight.io.atomic import atomic_path

    labels = {"envmap_rmse_weighted": "envmap RMSE (visibility-weighted)",
              "roughness_error": "|roughness - truth|"}
    keys = [k for k in labels if f"goal_{k}" in runs["full"]]
    fig, axes = plt.subplots(2, len(keys), figsize=(5.5 * len(keys), 7.5), dpi=120,
                             squeeze=False)
    colors = {"full": "k", "uniform": "tab:blue", "grad": "tab:orange", "adaptive": "tab:red",
              "adaptive-pre": "tab:purple", "adaptive-cost": "tab:green"}
    for row, (clock, xlabel) in enumerate((("time_s", "wall time (s)"),
                                            ("cpu_s", "CPU time of the process (s)"))):
        for ax, key in zip(axes[row], keys):
            for name, run in runs.items():
                ax.plot(run[clock], _running_median(run[key]), color=colors.get(name),
                        lw=1.3, label=f"{name} ({run['pixels_per_iteration']} px/it)")
            ax.axhline(runs["full"][f"goal_{key}"], color="k", ls=":", lw=0.8)
            ax.axvline(runs["full"][clock][-1] / 3, color="gray", ls="--", lw=0.8)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(labels[key])
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def scratch_study(R, E, n: int, spp: int, log) -> dict:
    """Bias and variance of the subset L_grad gradient (view 0) against the full render's."""
    from scratchlight.objectives import scratch_objective
    from scratchlight.fit.scratch_estimator import (refresh_scratch_sampler, scratch_sampler,
                                                    subset_scratch_gradient)

    from scratchlight.engines.subset import SubsetRenderer

    R1 = SubsetRenderer(R.scenes[0], spp=spp)
    M = R1.scenes[0].object_mask
    full = []
    t0 = time.perf_counter()
    nf = max(64, n // 4)
    for s in range(nf):
        img = R1.render_views(E, 0.3, seed=s, grad=True)[0]
        o = scratch_objective(img, E, M)
        full.append(np.ravel(R1.backprop(o.dL_dI[None])["envmap"]) + o.dL_dE.ravel())
    full = np.array(full)
    ref = full.mean(0)
    out = {"full": {"trace": float(full.var(0).sum()), "evals": nf,
                    "s_per_eval": (time.perf_counter() - t0) / nf}}
    log(f"  full      trace {out['full']['trace']:.3e} ({nf} evals)")
    for name in ("uniform", "adaptive"):
        S = scratch_sampler(name, M, BUDGET)
        rng = np.random.default_rng(4)
        est = []
        t0 = time.perf_counter()
        for k in range(n):
            if S.needs_refresh(k):
                refresh_scratch_sampler(R1, S, E, M, iteration=k, spp=spp, seed=k,
                                        roughness=0.3)
            est.append(subset_scratch_gradient(R1, E, S, rng, M, seed=50_000 + k, spp=spp,
                                               roughness=0.3).grad.ravel())
        est = np.array(est)
        d = est.mean(0) - ref
        se = np.sqrt(np.sum(est.var(0) / n + full.var(0) / nf))
        out[name] = {"trace": float(est.var(0).sum()), "evals": n, "anchors": S.k,
                     "s_per_eval": (time.perf_counter() - t0) / n,
                     "relative_bias": float(np.linalg.norm(d) / np.linalg.norm(ref)),
                     "relative_bias_se": float(se / np.linalg.norm(ref)),
                     "bias_cosine": float(d @ ref / (np.linalg.norm(d) * np.linalg.norm(ref)))}
        log(f"  {name:9s} trace {out[name]['trace']:.3e}, |mean - full| / |full| = "
            f"{out[name]['relative_bias']:.4f} (noise level {out[name]['relative_bias_se']:.4f})")
    return out


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


def fit_part(task: Task, a, log) -> dict:
    names = a.fit_samplers.split(",")
    iters = {n: (a.full_iters if n == "full" else a.subset_iters) for n in names}
    out = {"seeds": []}
    for rep in range(a.seeds):
        log(f"  seed {rep}:")
        runs = fit_study(task, names, iters, a.spp, 3 if rep == 0 else 0, log, seed=5 + rep)
        if rep == 0:
            out["runs"] = runs
            root, ext = os.path.splitext(a.plot)
            what = "light + roughness" if "envmap" in task.params else "roughness"
            plot_fit(f"{root}_{task.kind}{ext}", runs,
                     f"{task.kind} task: fit of {what}, {task.R.n_pixels} px, budget {BUDGET}, "
                     f"spp {a.spp}")
        out["seeds"].append({n: {k: v for k, v in r.items() if not isinstance(v, list)}
                             for n, r in runs.items()})
        for key in task.error_keys:
            log(f"  time to reach full's final {key} ({runs['full'][f'goal_{key}']:.4f}), "
                f"wall / CPU, and the plateau (median of the last 20 %):")
            for name, run in runs.items():
                parts = []
                for clock in ("time_s", "cpu_s"):
                    t = run[f"{clock}_to_full_final_{key}"]
                    parts.append("never" if t is None else
                                 f"{t:.1f} s = {run[f'{clock}_fraction_{key}']:.2f}")
                its = run[f"iterations_to_full_final_{key}"]
                log(f"    {name:12s} {parts[0]:>18s} | {parts[1]:>18s} | "
                    f"{'never' if its is None else its:>5} it | plateau "
                    f"{run[f'plateau_{key}']:.4f}")
    return out


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

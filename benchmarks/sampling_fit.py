"""Fits against time (part (b) of ``sampling.py``): every sampler fits the same task,
interleaved so that load on a shared machine hits them alike; the time each takes to reach
the full render's final error, and one plot per task."""
from __future__ import annotations

import os

import numpy as np

from sampling_tasks import BUDGET, Task

__all__ = ["fit_study", "fit_part", "plot_fit"]


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

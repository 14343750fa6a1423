"""Transport engine vs AD engine: one optimization (issue 5), the default engine end to end and
scaling (issue 12).

One scene (a 1024 x 1024 height map, 512 x 512 image by default), the paper's loop
(``scratchlight.optimize.optimize_light``: Adam, lr 0.02, lambda 30, gray 25 x 50 map) run
with each engine for the same number of iterations from the same initial map. Measured:
- wall time of each engine end to end: engine set-up (for transport: building T, no
  cache) plus the iterations;
- the final objective of each result, judged on the same high-spp Mitsuba render
  (``ADEngine.render_progressive``, one seed for all maps);
- memory of T for a 1024 x 1024 image: bytes per pixel, and the peak resident memory of a
  process that builds it and runs one render and one backprop (a separate process).

Suites (``--suite``):
- ``single`` (the measurement above, one surface, both engines from each ``--init``);
- ``default``: the default ``optimize`` (engine auto) against ``--engine ad`` on three
  surfaces, end to end in fresh processes, with ``evaluate``'s metrics (``engine_runs``);
- ``scaling``: time per iteration and peak memory against image and grid size, both
  engines, and the 5000 x 5000 grid end to end (``engine_runs``);
- ``all`` (default): ``default`` then ``scaling``.

Usage:
    .venv/bin/python benchmarks/engines.py --json benchmarks/results/engines.json  # all
    .venv/bin/python benchmarks/engines.py --quick         # small sizes, a few minutes
    .venv/bin/python benchmarks/engines.py --suite single --heightmap /path/to/face.sur
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

ENV_SHAPE = (25, 50)
JUDGE_SEED = 424_242


def synthetic_surface(n: int, seed: int = 0):
    """An n x n face-milled-like surface, 2 um spacing: curved feed marks (period 24 um,
    1 um deep), a gentle waviness, 50 nm noise, and five straight scratches 1-2 um deep."""
    from scratchlight.io import check_heightmap

    rng = np.random.default_rng(seed)
    dx = 2e-6
    y, x = np.mgrid[0:n, 0:n].astype(np.float64) * dx
    # feed marks: arcs of a cutter of radius 4 x the patch, centred beside the patch
    L = n * dx
    r = np.hypot(x + 3.0 * L, y - 0.5 * L)
    h = 1e-6 * np.abs(np.sin(np.pi * r / 24e-6))
    h += 0.3e-6 * np.sin(2 * np.pi * x / (0.7 * L)) * np.sin(2 * np.pi * y / (0.9 * L))
    h += 5e-8 * rng.standard_normal((n, n))
    for _ in range(5):
        p = rng.uniform(0.1, 0.9, 2) * L
        a = rng.uniform(0, np.pi)
        d = np.abs((x - p[0]) * np.sin(a) - (y - p[1]) * np.cos(a))
        along = np.abs((x - p[0]) * np.cos(a) + (y - p[1]) * np.sin(a))
        width = rng.uniform(3, 6) * dx
        h -= rng.uniform(1e-6, 2e-6) * np.exp(-0.5 * (d / width) ** 2) * (along < 0.3 * L)
    return check_heightmap(h, dx, dx, source=f"synthetic face-milled {n}x{n}")


def load_surface(args):
    from scratchlight.io import read_heightmap
    from scratchlight.surface import prepare

    if args.heightmap:
        return prepare(read_heightmap(args.heightmap), max_size=args.grid)
    return synthetic_surface(args.grid)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_engine(name, scene, E0, mask, args) -> dict:
    from scratchlight.engines import make_engine
    from scratchlight.optimize import LightConfig, OptimizerConfig, optimize_light

    options = {"cache_dir": False} if name == "transport" else {}
    spp = args.transport_spp if name == "transport" else args.ad_spp
    t0 = time.perf_counter()
    engine = make_engine(name, scene, spp=spp, seed=args.seed, **options)
    t_setup = time.perf_counter() - t0
    res = optimize_light(engine, E0, mask, LightConfig(lam=args.lam),
                         OptimizerConfig(lr=args.lr, iterations=args.iterations),
                         seed=args.seed, progress=args.progress)
    total = time.perf_counter() - t0
    out = {"engine": name, "spp": spp, "setup_s": t_setup, "loop_s": res.time_s,
           "total_s": total, "per_iteration_ms": 1e3 * res.time_s / len(res.loss),
           "loss_first": res.loss[0], "loss_last": res.loss[-1], "envmap": res.envmap}
    if name == "transport":
        Ts = engine.matrices
        n_pix = Ts[0].image_shape[0] * Ts[0].image_shape[1]
        out.update(nnz_per_pixel=sum(T.nnz for T in Ts) / n_pix,
                   bytes_per_pixel=engine.nbytes / n_pix, T_mib=engine.nbytes / 2**20)
    return out


def judge(scene, maps: dict, mask, args) -> dict:
    """Objective of every map on one high-spp render each (same seed, Mitsuba path tracer)."""
    from scratchlight.engines import ADEngine
    from scratchlight.objectives import scratch_objective

    eng = ADEngine(scene)
    out = {}
    for name, E in maps.items():
        img = eng.render_progressive(E, args.judge_spp, seed=JUDGE_SEED,
                                     chunk_spp=min(64, args.judge_spp))
        o = scratch_objective(img, E, mask, lam=args.lam)
        out[name] = {"loss": o.loss, "l_grad": o.l_grad, "l_l2": o.l_l2,
                     "mean_gradient": o.mean_gradient}
    return out


def memory_child(grid: int, res: int, spp: int) -> dict:
    """Run in its own process: build T for a res x res image, one render and one backprop."""
    import scratchlight as sl
    from scratchlight.engines.transport import TransportEngine

    sl.use_device("auto")
    hm = synthetic_surface(grid)
    scene = sl.build_scene(hm, sl.SceneSpec(width=res, height=res))
    rss_scene = peak_rss_mib()
    t0 = time.perf_counter()
    eng = TransportEngine(scene, spp=spp, cache_dir=False)
    t_build = time.perf_counter() - t0
    rss_built = peak_rss_mib()
    E = np.full(ENV_SHAPE + (1,), 0.5, np.float32)
    img = eng.render(E, grad=True)
    g = np.ones_like(img)
    t_render, t_back = [], []
    for seed in range(5):
        t0 = time.perf_counter()
        eng.render(E, seed=seed, grad=True)
        t1 = time.perf_counter()
        eng.backprop(g)
        t_render.append(t1 - t0)
        t_back.append(time.perf_counter() - t1)
    t_render, t_back = float(np.median(t_render)), float(np.median(t_back))
    n_pix = res * res
    stored = eng.nbytes
    return {"grid": grid, "image": res, "spp": spp, "build_s": t_build,
            "nnz_per_pixel": sum(T.nnz for T in eng.matrices) / n_pix,
            "bytes_per_pixel": stored / n_pix,
            "T_mib": stored / 2**20,
            "render_ms": 1e3 * t_render, "backprop_ms": 1e3 * t_back,
            "peak_rss_after_scene_mib": rss_scene, "peak_rss_after_build_mib": rss_built,
            "peak_rss_mib": peak_rss_mib()}


def memory_report(grid: int, res: int, spp: int) -> dict:
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child",
                        str(grid), str(res), str(spp)], capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def compare(init: str, scene, mask, args) -> dict:
    """Both engines from the initial map ``init``; prints and returns the figures."""
    from scratchlight.optimize import initial_envmap

    E0 = initial_envmap(init, ENV_SHAPE, 1, seed=args.seed, scene=scene)
    print(f"\ninitial map {init}:", flush=True)
    runs = {}
    for name in args.engines.split(","):
        runs[name] = run_engine(name, scene, E0, mask, args)
        r = runs[name]
        print(f"  {name:9s} set-up {r['setup_s']:7.1f} s, loop {r['loop_s']:7.1f} s "
              f"({r['per_iteration_ms']:.0f} ms/it), total {r['total_s']:7.1f} s", flush=True)
    maps = {"initial": E0, **{n: r["envmap"] for n, r in runs.items()}}
    t0 = time.perf_counter()
    judged = judge(scene, maps, mask, args)
    print(f"  judged {len(maps)} maps at {args.judge_spp} spp in {time.perf_counter() - t0:.0f} s")
    names = list(runs)
    rows = [
        ("spp per render", lambda n: f"{runs[n]['spp']}"),
        ("set-up s (T build)", lambda n: f"{runs[n]['setup_s']:.1f}"),
        (f"{args.iterations} iterations s", lambda n: f"{runs[n]['loop_s']:.1f}"),
        ("ms per iteration", lambda n: f"{runs[n]['per_iteration_ms']:.0f}"),
        ("end to end s", lambda n: f"{runs[n]['total_s']:.1f}"),
        (f"final loss ({args.judge_spp} spp)", lambda n: f"{judged[n]['loss']:.4f}"),
        ("final L_grad", lambda n: f"{judged[n]['l_grad']:.4f}"),
        ("final L_l2", lambda n: f"{judged[n]['l_l2']:.4f}"),
    ]
    print(f"  {'':28s}" + "".join(f"{n:>12s}" for n in names))
    for label, fn in rows:
        print(f"  {label:28s}" + "".join(f"{fn(n):>12s}" for n in names))
    print(f"  {'loss of the initial map':28s}{judged['initial']['loss']:>12.4f}")
    out = {"judged": judged,
           "runs": {n: {k: v for k, v in r.items() if k != "envmap"} for n, r in runs.items()}}
    if "ad" in runs and "transport" in runs:
        ad, tr = runs["ad"], runs["transport"]
        out["speedup_end_to_end"] = ad["total_s"] / tr["total_s"]
        out["speedup_per_iteration"] = ad["per_iteration_ms"] / tr["per_iteration_ms"]
        lt, la = judged["transport"]["loss"], judged["ad"]["loss"]
        verdict = "equal or better" if lt <= la else f"{100 * (lt / la - 1):.1f} % worse"
        print(f"  transport vs ad: {out['speedup_end_to_end']:.1f}x faster end to end "
              f"({out['speedup_per_iteration']:.0f}x per iteration); final loss {lt:.4f} vs "
              f"{la:.4f} ({verdict})")
        print(f"  T: {tr['nnz_per_pixel']:.1f} non-zeros and {tr['bytes_per_pixel']:.0f} bytes "
              f"per pixel in both matrices ({tr['T_mib']:.0f} MiB)")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", choices=("all", "default", "scaling", "single"), default="all")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes: 256 grid, 128 image, 20 iterations, 64-spp judge, ...")
    ap.add_argument("--heightmap", help="single: height-map file instead of the synthetic surface")
    ap.add_argument("--grid", type=int, default=1024, help="height-map size (default 1024)")
    ap.add_argument("--resolution", type=int, default=512, help="image size (default 512)")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--spp", type=int, default=16, help="default: spp per iteration (16)")
    ap.add_argument("--ad-spp", type=int, default=16, help="AD engine spp per render (default 16)")
    ap.add_argument("--transport-spp", type=int, default=16,
                    help="paths per pixel of each of the transport engine's two matrices "
                         "(primal and gradient; default 16, as --ad-spp)")
    ap.add_argument("--judge-spp", type=int, default=256, help="spp of the judging renders")
    ap.add_argument("--eval-seeds", type=int, default=3, help="default: evaluate's renders (3)")
    ap.add_argument("--eval-spp", type=int, default=128, help="default: evaluate's spp (128)")
    ap.add_argument("--scaling-images", type=int, nargs="+", default=[128, 256, 512, 1024])
    ap.add_argument("--scaling-grids", type=int, nargs="+", default=[256, 1024, 2048, 5000])
    ap.add_argument("--scaling-grid", type=int, default=1024,
                    help="grid of the image-size series (default 1024)")
    ap.add_argument("--scaling-iterations", type=int, default=20,
                    help="transport iterations per scaling point (default 20)")
    ap.add_argument("--scaling-ad-iterations", type=int, default=4,
                    help="AD iterations per scaling point (default 4)")
    ap.add_argument("--lam", type=float, default=30.0)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--init", action="append",
                    help="single: initial map as optimize's --init; repeat for several "
                         "(default: constant:0.5 and specular)")
    ap.add_argument("--mask", choices=("object", "scratch"), default="object")
    ap.add_argument("--engines", default="ad,transport", help="single: engines to run")
    ap.add_argument("--memory-resolution", type=int, default=1024,
                    help="single: image size of the memory measurement (0 skips it)")
    ap.add_argument("--memory-spp", type=int, default=16,
                    help="single: spp of each matrix in the memory measurement")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1,
                    help="default: optimize seeds --seed .. --seed+N-1 (evaluate: the first)")
    ap.add_argument("--progress", action="store_true", help="progress bars")
    ap.add_argument("--json", help="also write the numbers to this file")
    ap.add_argument("--memory-child", nargs=3, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--scaling-child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(*args.memory_child)))
        return
    if args.scaling_child:
        from engine_runs import scaling_child

        e, im, g, its, path = args.scaling_child
        print(json.dumps(scaling_child(e, int(im), int(g), int(its), path)))
        return
    if args.quick:
        args.grid, args.resolution, args.iterations = 256, 128, 20
        args.judge_spp, args.memory_resolution = 64, 256
        args.eval_seeds, args.eval_spp = 2, 32
        args.scaling_images, args.scaling_grids, args.scaling_grid = [64, 128], [128, 256], 256
        args.scaling_iterations, args.scaling_ad_iterations = 5, 3
    summary = {"suite": args.suite, "cpus": os.cpu_count(), "args": vars(args)}
    if args.suite == "single":
        summary.update(single_suite(args))
    if args.suite in ("all", "default"):
        from engine_runs import default_suite, default_table

        print(f"default optimize (engine auto) vs --engine ad: {args.resolution}^2 image, "
              f"{args.iterations} iterations, {args.spp} spp, grid <= {args.grid}", flush=True)
        summary["default"] = default_suite(args, log=lambda m: print(m, flush=True))
        print("\n" + default_table(summary["default"]["rows"]) + "\n", flush=True)
    if args.suite in ("all", "scaling"):
        from engine_runs import scaling_suite, scaling_table

        print("scaling: time per iteration and peak memory", flush=True)
        summary["scaling"] = scaling_suite(args, log=lambda m: print(m, flush=True))
        print("\n" + scaling_table(summary["scaling"]["rows"]), flush=True)
    if args.json:
        from scratchlight.io.atomic import atomic_path

        with atomic_path(args.json, suffix=".json") as tmp:
            with open(tmp, "w") as f:
                json.dump(summary, f, indent=2, default=str)


def single_suite(args) -> dict:
    """The one-surface comparison of both engines from each ``--init`` (module docstring)."""
    import scratchlight as sl
    from scratchlight.surface.scratchmap import scratch_map

    variant = sl.use_device("auto")
    hm = load_surface(args)
    t0 = time.perf_counter()
    scene = sl.build_scene(hm, sl.SceneSpec(width=args.resolution, height=args.resolution))
    t_scene = time.perf_counter() - t0
    mask = scene.object_mask.copy()
    if args.mask == "scratch":
        mask &= scene.cell_mask_to_image(scratch_map(hm.heights))
    inits = args.init or ["constant:0.5", "specular"]
    print(f"{hm.source}: {hm.shape[1]} x {hm.shape[0]} grid, {args.resolution}^2 image, "
          f"{scene.spec.material} roughness {scene.spec.roughness:g}, exaggeration "
          f"{float(scene.spec.exaggeration):.3g}, {int(mask.sum())} mask pixels, "
          f"{args.iterations} iterations, {variant}, {os.cpu_count()} CPUs; scene build "
          f"{t_scene:.1f} s (shared, not counted)", flush=True)
    summary = {"grid": list(hm.shape), "image": args.resolution, "iterations": args.iterations,
               "spec": repr(scene.spec), "variant": variant, "cpus": os.cpu_count(),
               "scene_build_s": t_scene, "judge_spp": args.judge_spp, "by_init": {}}
    for init in inits:
        summary["by_init"][init] = compare(init, scene, mask, args)
    if args.memory_resolution:
        m = memory_report(args.grid, args.memory_resolution, args.memory_spp)
        summary["memory"] = m
        if "error" in m:
            print(f"\nmemory measurement failed: {m['error']}")
        else:
            print(f"\nmemory, {m['image']}^2 image, two matrices of {m['spp']} spp: build "
                  f"{m['build_s']:.1f} s, {m['nnz_per_pixel']:.1f} non-zeros and "
                  f"{m['bytes_per_pixel']:.0f} bytes per pixel ({m['T_mib']:.0f} MiB); peak RSS "
                  f"{m['peak_rss_mib']:.0f} MiB (after scene build "
                  f"{m['peak_rss_after_scene_mib']:.0f} MiB, after the build "
                  f"{m['peak_rss_after_build_mib']:.0f} MiB); render {m['render_ms']:.0f} ms, "
                  f"backprop {m['backprop_ms']:.0f} ms")
    return summary


if __name__ == "__main__":
    main()

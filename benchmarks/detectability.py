"""Which visibility metrics discriminate between lights? (issue: visibility you can trust)

A synthetic face-milled surface with planted scratches and its defect-free twin are
rendered under: a uniform light, a studio map, single directions (one texel of a 25 x 50
map lit) spread over the upper hemisphere, and the light the paper's optimization finds.
Every light gets the same seeds for the surface and its twin; each metric is measured on
the same renders. The script prints, per metric, the lights ranked, and writes the table
to ``benchmarks/results/detectability.json``.

    .venv/bin/python benchmarks/detectability.py [--size 128] [--resolution 128] [--seeds 4]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time

import numpy as np

import scratchlight as sl
from scratchlight.report.detectability import detectability
from scratchlight.report.metrics import metrics_over_seeds
from scratchlight.report.perception import perceived_metrics
from scratchlight.scene import studio_envmap

METRICS = ("auc", "cnr", "detected_fraction", "mean_gradient", "rms_contrast",
           "perceived_contrast", "npw", "cho")


def single_direction(row: int, col: int, shape=(25, 50)) -> np.ndarray:
    E = np.zeros(shape + (1,), np.float32)
    E[row, col] = 1.0
    return E


def measure(s_with, s_without, light, seeds, spp, truth):
    mask = s_with.object_mask
    with_ = [s_with.render_final(light, spp, seed=k) for k in range(seeds)]
    without = [s_without.render_final(light, spp, seed=k) for k in range(seeds)]
    m = metrics_over_seeds(with_, mask, truth)
    per = [perceived_metrics(im, mask, truth) for im in with_]
    d = detectability(with_, without, truth, mask)
    row = {k: m[k]["mean"] for k in ("auc", "cnr", "detected_fraction", "mean_gradient",
                                      "rms_contrast", "black_fraction")}
    row["perceived_contrast"] = float(np.mean([p["perceived_contrast"] for p in per]))
    row["npw"] = d["npw"]["overall"]
    row["cho"] = d["cho"]["overall"]
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--spp", type=int, default=32)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                  "detectability.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    work = tempfile.mkdtemp(prefix="detectability-")
    hm = sl.synthesize("face-mill", size=args.size, scratches=4, seed=0)
    twin = sl.synthesize("face-mill", size=args.size, scratches=0, seed=0)
    sl.io.write_npz(os.path.join(work, "part.npz"), hm)
    sl.io.write_npz(os.path.join(work, "twin.npz"), twin)
    spec = sl.SceneSpec(width=args.resolution, height=args.resolution, exaggeration="auto")
    s_with = sl.Session(os.path.join(work, "part.npz"), spec)
    s_without = sl.Session(os.path.join(work, "twin.npz"),
                           dataclasses.replace(s_with.scene.spec))
    truth = s_with.truth_mask()

    cfg = sl.OptimizeConfig.from_options(heightmap=os.path.join(work, "part.npz"),
                                         resolution=args.resolution, iterations=args.iterations,
                                         final_spp=args.spp)
    summary = sl.run_optimization(cfg, os.path.join(work, "optimized"), progress=False)
    optimized = sl.read_envmap(os.path.join(work, "optimized", "envmap.exr"))[..., :1]
    print(f"optimized light: objective {summary['objective_before']['loss']:.4g} -> "
          f"{summary['objective_after']['loss']:.4g} ({time.perf_counter() - t0:.0f} s)",
          flush=True)

    lights = {"uniform": np.full((25, 50, 1), 0.5, np.float32),
              "studio": studio_envmap((25, 50)), "optimized": optimized}
    for row in (3, 7, 10):                     # elevations about 68, 40 and 18 degrees
        for col in range(0, 50, 10):           # five azimuths
            lights[f"dir r{row} c{col}"] = single_direction(row, col)
    table = {}
    for name, light in lights.items():
        table[name] = measure(s_with, s_without, light, args.seeds, args.spp, truth)
        r = table[name]
        print(f"{name:>14}: " + ", ".join(f"{k} {r[k]:.3g}" if r[k] is not None else f"{k} -"
                                           for k in METRICS), flush=True)
    print("\nranking per metric (best first):")
    for k in METRICS:
        order = sorted(table, key=lambda n: -(table[n][k] if table[n][k] is not None else -1e9))
        where = {n: order.index(n) + 1 for n in ("optimized", "studio", "uniform")}
        singles = [table[n][k] for n in table if n.startswith("dir") and table[n][k] is not None]
        print(f"{k:>18}: optimized #{where['optimized']}, studio #{where['studio']}, "
              f"uniform #{where['uniform']} of {len(order)}; single directions "
              f"{min(singles):.3g} .. {max(singles):.3g} (median {np.median(singles):.3g})")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"settings": vars(args), "lights": table,
                   "seconds": time.perf_counter() - t0}, f, indent=1)
    print(f"\n{time.perf_counter() - t0:.0f} s; table in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

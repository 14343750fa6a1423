"""The paper's objective against the defect-aimed one (--objective defect-contrast).

For each synthetic kind and seed: a surface with planted scratches and its defect-free twin;
the light is optimized with the paper's objective over the whole surface ("gradient"), with
it over a prior region ("gradient-region": the planted scratches dilated by 3 pixels, a
user's region; the paper's scratch map covers all of these small synthetic surfaces), and
with the defect-aimed objective over the same region ("defect-contrast"), then judged on
independent renders of the surface and the twin by the display observers' d', AUC and the
perceived contrast. On the real maps (no truth, the prior is the scratch map) the no-truth
metrics are compared. Prints the per-kind means with standard errors and the paired differences, and
writes ``benchmarks/results/objectives.json``.

    .venv/bin/python benchmarks/objectives.py [--seeds 5] [--size 96] [--iterations 60]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time

import numpy as np
from scipy import ndimage

import scratchlight as sl
from scratchlight.report.detectability import detectability
from scratchlight.report.metrics import visibility_metrics
from scratchlight.report.perception import perceived_metrics
from scratchlight.study.cases import default_data_dir

KINDS = ("face-mill", "turning", "ball-end", "ground")
OBJECTIVES = ("gradient", "gradient-region", "defect-contrast")


def judge(s_with, s_without, E, seeds, spp):
    mask, truth = s_with.object_mask, s_with.truth_mask()
    with_ = [s_with.render_final(E, spp, seed=100 + k) for k in range(seeds)]
    out = {"mean_gradient": float(np.mean([visibility_metrics(i, mask)["mean_gradient"] for i in with_])),
           "perceived_rms_contrast": float(np.mean([perceived_metrics(i, mask)["perceived_rms_contrast"]
                                                    for i in with_]))}
    if s_without is not None and truth is not None:
        without = [s_without.render_final(E, spp, seed=100 + k) for k in range(seeds)]
        d = detectability(with_, without, truth, mask, window=12)
        out["npw"], out["cho"] = d["npw"]["overall"], d["cho"]["overall"]
        out["auc"] = float(np.mean([visibility_metrics(i, mask, truth)["auc"] for i in with_]))
        out["perceived_contrast"] = float(np.mean([perceived_metrics(i, mask, truth)["perceived_contrast"]
                                                   for i in with_]))
    return out


def optimize(session, objective, args, seed, prior="scratch"):
    """The optimized light of one objective; ``prior``: 'scratch' or an (h, w) region."""
    name = "scratch" if isinstance(prior, str) else "region"
    light = sl.LightConfig(mask="object" if objective == "gradient" else name,
                           objective="gradient" if objective != "defect-contrast" else objective)
    session.set_mask("object" if objective == "gradient" else prior, light)
    run = session.optimize(light, sl.OptimizerConfig(iterations=args.iterations, spp=args.spp),
                           seed=seed)
    return run.envmap


def mean_se(values):
    v = np.asarray([x for x in values if x is not None], np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / math.sqrt(v.size)) if v.size > 1 else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--spp", type=int, default=8)
    ap.add_argument("--judge-spp", type=int, default=32)
    ap.add_argument("--judge-seeds", type=int, default=4)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                  "objectives.json"))
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    work = tempfile.mkdtemp(prefix="objectives-")
    spec = sl.SceneSpec(width=args.resolution, height=args.resolution, exaggeration="auto")
    rows = []
    for kind in args.kinds.split(","):
        for seed in range(args.seeds):
            a, b = (os.path.join(work, f"{kind}-{seed}-{t}.npz") for t in ("part", "twin"))
            sl.io.write_npz(a, sl.synthesize(kind, size=args.size, scratches=4, seed=seed))
            sl.io.write_npz(b, sl.synthesize(kind, size=args.size, scratches=0, seed=seed))
            s_with = sl.Session(a, spec)
            s_without = sl.Session(b, dataclasses.replace(s_with.scene.spec))
            region = ndimage.binary_dilation(s_with.truth_mask(), iterations=3)
            for objective in OBJECTIVES:
                E = optimize(s_with, objective, args, seed, region)
                r = judge(s_with, s_without, E, args.judge_seeds, args.judge_spp)
                rows.append({"surface": kind, "seed": seed, "objective": objective, **r})
                print(f"{kind:>9} seed {seed} {objective:>15}: " +
                      ", ".join(f"{k} {v:.3g}" for k, v in r.items() if v is not None), flush=True)
    data = default_data_dir()
    for name, crop in (("milled-face.sur", None), ("bullet-land-sample.x3p", (331, 0, 256, 256))):
        path = os.path.join(data, name)
        if not os.path.exists(path):
            continue
        s = sl.Session(sl.SurfaceConfig(path, crop=crop, max_size=256), spec)
        for objective in OBJECTIVES:
            E = optimize(s, objective, args, 0)
            r = judge(s, None, E, args.judge_seeds, args.judge_spp)
            rows.append({"surface": name, "seed": 0, "objective": objective, **r})
            print(f"{name:>9} {objective:>15}: " + ", ".join(f"{k} {v:.3g}" for k, v in r.items()),
                  flush=True)
    print("\nmean +- standard error over seeds; paired difference on the same surfaces:")
    for surface in dict.fromkeys(r["surface"] for r in rows):
        for metric in ("npw", "cho", "auc", "perceived_contrast", "mean_gradient",
                       "perceived_rms_contrast"):
            vals = {o: [r.get(metric) for r in rows if r["surface"] == surface and r["objective"] == o]
                    for o in OBJECTIVES}
            if all(v is None for v in vals["gradient"]):
                continue
            g, gr, d = (mean_se(vals[o]) for o in OBJECTIVES)
            diff = mean_se([y - x for x, y in zip(vals["gradient-region"], vals["defect-contrast"])
                            if x is not None and y is not None])
            print(f"{surface:>22} {metric:>22}: gradient {g[0]:.3g} +- {g[1]:.2g}, region "
                  f"{gr[0]:.3g} +- {gr[1]:.2g}, defect-contrast {d[0]:.3g} +- {d[1]:.2g}; "
                  f"defect-contrast - region {diff[0]:+.3g} +- {diff[1]:.2g}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"settings": vars(args), "rows": rows, "seconds": time.perf_counter() - t0}, f,
                  indent=1)
    print(f"\n{time.perf_counter() - t0:.0f} s; rows in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Transport engine from any start (issue 12, part 1): AD vs transport (noise 'none', the
engine before noise matching) vs transport (noise 'matched').

For each surface (a synthetic face-milled map, ``milled-face.sur``) and initial map
(constant:0.5, random, specular) the paper's loop (gray 25 x 50 map, lambda 30, lr 0.02) runs
with each engine for 3 seeds; every final map is judged on its own high-spp Mitsuba render,
all with one judge seed (``Session.render_final`` + ``Session.judge``). Prints the judged
objective per run, medians over seeds, the ratio of each transport median to the AD one,
and times (transport: the loop, including noise calibration; T's build is reported once).

Usage (a few minutes per surface on 2 cores):
    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/transport_start.py
    ... --size 128 --spp 16 --iterations 100 --seeds 3 --json out.json
    ... --surface milled-face.sur --init specular --first-seed 3 --seeds 6   # more seeds
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

DATA = os.environ.get("SCRATCHLIGHT_DATA", "/work/shared/data")
INITS = ("constant:0.5", "random", "specular")
ENGINES = ("ad", "transport-none", "transport-matched")


def surfaces(tmp: str, args) -> dict:
    import scratchlight as sl
    from scratchlight.surface import SurfaceConfig

    synth = os.path.join(tmp, "face-mill.npz")
    sl.io.write_npz(synth, sl.synthesize("face-mill", size=128, scratches=3))
    out = {"synthetic face-mill 128": SurfaceConfig(synth, max_size=args.max_size)}
    sur = os.path.join(DATA, "milled-face.sur")
    if os.path.isfile(sur):
        out["milled-face.sur"] = SurfaceConfig(sur, max_size=args.max_size)
    return out


def run_surface(label, surface, args, cache) -> list[dict]:
    from scratchlight.engines import ADEngine, TransportEngine
    from scratchlight.optimize import optimize_light
    from scratchlight.optimize.config import LightConfig
    from scratchlight.scene import SceneSpec
    from scratchlight.session import Session

    s = Session(surface, SceneSpec(width=args.size, height=args.size))
    t0 = time.perf_counter()
    engines = {"transport-none": TransportEngine(s.scene, spp=args.spp, cache_dir=cache, noise="none")}
    build_s = time.perf_counter() - t0
    engines["transport-matched"] = TransportEngine(s.scene, spp=args.spp, cache_dir=cache)
    engines["ad"] = ADEngine(s.scene, spp=args.spp)
    print(f"{label}: T built in {build_s:.1f} s", flush=True)
    rows = []
    for init in args.init or INITS:
        light = LightConfig(init=init)
        for name in args.engine or ENGINES:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                E0 = s.initial_envmap(light, seed)
                t0 = time.perf_counter()
                res = optimize_light(engines[name], E0, s.mask, lam=light.effective_lam,
                                     lr=args.lr, iterations=args.iterations, seed=seed)
                t = time.perf_counter() - t0
                judged = s.judge(s.render_final(res.envmap, spp=args.judge_spp), res.envmap, light)
                rows.append(dict(surface=label, init=init, engine=name, seed=seed,
                                 loss=judged["loss"], time_s=t, build_s=build_s))
                print(f"  {init:13s} {name:18s} seed {seed}: judged {judged['loss']:.3f}  "
                      f"{t:.1f} s", flush=True)
    return rows


def summary(rows) -> str:
    engines = [n for n in ENGINES if any(r["engine"] == n for r in rows)]
    if engines != list(ENGINES):  # a partial run: medians per engine only
        lines = ["| surface | initial map | " + " | ".join(engines) + " |",
                 "|---|---|" + "---|" * len(engines)]
        for surface, init in dict.fromkeys((r["surface"], r["init"]) for r in rows):
            meds = [np.median([r["loss"] for r in rows if (r["surface"], r["init"], r["engine"])
                               == (surface, init, n)]) for n in engines]
            lines.append(f"| {surface} | {init} | " + " | ".join(f"{m:.3f}" for m in meds) + " |")
        return "\n".join(lines)
    lines = ["| surface | initial map | AD | transport (none) | ratio | transport (matched) "
             "| ratio | time AD / none / matched |", "|---|---|---|---|---|---|---|---|"]
    keys = dict.fromkeys((r["surface"], r["init"]) for r in rows)
    for surface, init in keys:
        med = {}
        for name in ENGINES:
            sel = [r for r in rows if (r["surface"], r["init"], r["engine"]) == (surface, init, name)]
            med[name] = (float(np.median([r["loss"] for r in sel])),
                         float(np.median([r["time_s"] for r in sel])))
        ad = med["ad"][0]
        lines.append(f"| {surface} | {init} | {ad:.3f} | {med['transport-none'][0]:.3f} | "
                     f"{med['transport-none'][0] / ad:.3f} | {med['transport-matched'][0]:.3f} | "
                     f"**{med['transport-matched'][0] / ad:.3f}** | "
                     + " / ".join(f"{med[n][1]:.1f} s" for n in ENGINES) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="image side, pixels")
    ap.add_argument("--max-size", type=int, default=256, help="height-map grid limit")
    ap.add_argument("--spp", type=int, default=16)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. +seeds-1")
    ap.add_argument("--init", action="append", choices=INITS, help="only these initial maps")
    ap.add_argument("--engine", action="append", choices=ENGINES, help="only these engines")
    ap.add_argument("--judge-spp", type=int, default=256)
    ap.add_argument("--surface", action="append", help="only these surface labels")
    ap.add_argument("--json", help="write every run's row here")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, surface in surfaces(tmp, args).items():
            if args.surface and label not in args.surface:
                continue
            rows += run_surface(label, surface, args, os.path.join(tmp, "transport"))
    print(f"\n{args.size} x {args.size} image, {args.spp} spp, {args.iterations} iterations, "
          f"gray 25 x 50, lambda 30, judged at {args.judge_spp} spp; medians of {args.seeds} seeds\n")
    print(summary(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

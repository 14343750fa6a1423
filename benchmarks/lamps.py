"""Lamp rigs: the docs' recipe on milled-face.sur and how well Blender matches the rigs.

1. The recipe: ``optimize`` (--max-size 256 --resolution 128 --engine transport --init
   specular), then ``lamps`` (--final-spp 128 --seeds 2). Prints every K's judged objective
   against the full map's, the recommended rig and its lamps.
2. Blender against Mitsuba: ``lamps.blender_check`` on the recipe's rig and on tiny runs
   (a 48-point face-milled part at 48 x 48 pixels: the recommended rig, --count 3,
   --kind bar --count 2, --dome ring-dome), the suns and the world map, at Blender's 32
   samples. Prints r as exported, the best transformed r and the mean brightness ratio.

Results go to ``benchmarks/results/lamps.json``; needs ``blender`` on PATH for part 2.

    .venv/bin/python benchmarks/lamps.py [--skip-recipe] [--skip-blender]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data")


def sl(*args: str, cwd: str) -> None:
    quiet = [] if args[0] == "synth" else ["--quiet"]
    cmd = [sys.executable, "-m", "scratchlight.cli", *args, *quiet]
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def recipe(work: str) -> dict:
    surface = os.path.abspath(os.path.join(DATA, "milled-face.sur"))
    t0 = time.perf_counter()
    sl("optimize", surface, "--out", "results", "--max-size", "256", "--resolution", "128",
       "--engine", "transport", "--init", "specular", cwd=work)
    t1 = time.perf_counter()
    sl("lamps", "results", "--out", "rig", "--final-spp", "128", "--seeds", "2", cwd=work)
    t2 = time.perf_counter()
    run = json.load(open(os.path.join(work, "rig", "run.json")))
    lamps = json.load(open(os.path.join(work, "rig", "lamps.json")))["lamps"]
    print(f"full map: objective {run['full']['loss']:.4g}")
    for r in run["rigs"]:
        print(f"  K = {r['count']}: {r['loss']:.4g} ({100 * r['loss_vs_full']:.0f} %), "
              f"{r['lamps_with_power']} lamp(s) with power")
    print(f"recommended {run['recommended_count']}; exported lamps:")
    for lamp in lamps:
        print(f"  elevation {lamp['elevation_deg']:.0f}, azimuth {lamp['azimuth_deg']:.0f}, "
              f"diameter {lamp['angular_diameter_deg']:.1f} deg, relative intensity "
              f"{lamp['relative_intensity']:.2f}")
    print(f"optimize {t1 - t0:.0f} s, lamps {t2 - t1:.0f} s")
    return {"full": run["full"]["loss"], "rigs": [{k: r[k] for k in ("count", "loss",
                                                                     "loss_vs_full",
                                                                     "lamps_with_power")}
                                                   for r in run["rigs"]],
            "recommended": run["recommended_count"], "lamps": lamps,
            "optimize_s": t1 - t0, "lamps_s": t2 - t1}


def blender_row(folder: str, world: bool) -> dict:
    from scratchlight.lamps.blender_check import check_orientation

    res = check_orientation(folder, world=world, samples=32)
    others = {k: v for k, v in res["correlation"].items() if k != "as exported"}
    best = max(others, key=others.get)
    return {"r": res["correlation"]["as exported"], "best_transformed": [best, others[best]],
            "mean_ratio": res["mean_ratio"], "pixels": res["pixels"]}


def tiny_runs(work: str) -> dict:
    sl("synth", "--kind", "face-mill", "--size", "48", "--scratches", "2", "--out", "part.npz",
       cwd=work)
    sl("optimize", "part.npz", "--out", "light", "--resolution", "48", "--iterations", "10",
       cwd=work)
    rigs = {"recommended": [], "3 discs": ["--count", "3"],
            "2 bars": ["--kind", "bar", "--count", "2"], "ring-dome": ["--dome", "ring-dome"]}
    out = {}
    for name, extra in rigs.items():
        folder = name.replace(" ", "-")
        sl("lamps", "light", "--out", folder, "--final-spp", "16", "--seeds", "1", *extra,
           cwd=work)
        for world in ((True,) if name == "ring-dome" else (False, True)):
            row = blender_row(os.path.join(work, folder), world)
            out[f"{name} ({'world' if world else 'suns'})"] = row
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-recipe", action="store_true")
    p.add_argument("--skip-blender", action="store_true")
    a = p.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as work:
        if not a.skip_recipe:
            results["recipe"] = recipe(work)
        if not a.skip_blender and shutil.which("blender"):
            table = {}
            if not a.skip_recipe:
                for world in (False, True):
                    table[f"recipe rig ({'world' if world else 'suns'})"] = \
                        blender_row(os.path.join(work, "rig"), world)
            table.update(tiny_runs(work))
            results["blender"] = table
            print("| rig | r as exported | best transformed r | Blender / Mitsuba mean |")
            print("|---|---|---|---|")
            for name, row in table.items():
                print(f"| {name} | {row['r']:.3f} | {row['best_transformed'][1]:.3f} "
                      f"({row['best_transformed'][0]}) | {row['mean_ratio']:.3f} |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "lamps.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Multi-shot lighting (issue 27, part 2): optimized K-shot sequences against single lights
and the industry's fixed 4-shot sequence, judged by the probability of detection.

Lights (all lat-long maps of ``--envmap-size`` texels, values in [0, 1]):

- ``uniform``: constant 0.5;
- ``paper (K=1)``: ``scratchlight optimize`` with the paper's defaults (one light, the
  objective over the whole surface); with ``--shots 1`` the command is exactly this run;
- ``optimized K=2..4``: ``optimize --shots K`` with the same options otherwise (regions:
  the mask cut by 4 x 4 tiles); ``--mask scratch`` optimizes every K, 1 included, over
  the scratch map of the surface instead (its regions: the map's pieces, cut by the tiles);
- ``industry 4 x low angle``: four shots, one bar lamp each (60 degrees long, 10 wide, its
  centre ``--lamp-elevation`` degrees above the part's plane) at azimuths 0, 90, 180 and
  270 degrees in the part's frame (x along the height map's columns), drawn on the texel
  grid by ``lamps.footprint.lamp_footprint`` and scaled so its brightest texel is 1, the
  brightest any other light may have.

The lights (``--shots``: the K of the optimized sequences) are optimized on a synthetic
surface of ``--kind`` with ``--scratches`` planted scratches (``synthesize(kind, size,
seed=100, scratches=N)``, default 3), or on a measured map (``--surface FILE``, resampled
to ``--size``) with the same scratches planted, in the scene ``pod`` judges with
(``--resolution`` square, exaggeration 1, the oblique camera). ``pod``'s sweep then plants
scratches of ``--depths`` x 30 um width x 6 orientations (0..150 degrees) on the surfaces
of seeds ``--pod-seed`` .. ``--pod-seed`` + ``--seeds`` - 1 (not 100, the one optimized
on; a measured map is the same surface for every seed, with other placements), and
measures each
scratch's d' (NPW observer, camera model of ``pod``) against its defect-free twin under
every shot of every sequence (one ``pod.measure_defects`` run, the transport engine
relighting each plate). A sequence detects a scratch when any of its shots does
(``pod.sequence.sequence_rows``: its d' is the largest over the shots), and its POD(a) is
fitted like a single light's (MIL-HDBK-1823A hit/miss GLM, likelihood-ratio a90/95).

Printed: per light or sequence, the shots, the optimized objective judged on the final
renders (the maximum over shots of each region's mean gradient, ``optimize.shots``), hits,
a50, a90, a90/95 (depths, um; starred outside the depths swept), the median d', and
the weakest orientation with its hit rate. Usage (benchmarks/README.md has the measured
tables and their conditions)::

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/shots.py --seeds 3     # 2-3 minutes
    ... --seeds 3 --mask truth --scratches 6                 # lights for the planted scratches
    ... --seeds 3 --mask truth --scratches 6 --pod-seed 10   # the same judged on other surfaces
    ... --seeds 3 --kind turning --shots 1,2,4               # another synthetic kind
    ... --seeds 3 --surface milled-face.sur --size 256 --shots 1,2,4  # a measured map
    ... --size 96 --resolution 64 --seeds 1 --iterations 20  # a quick check
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np


def industry_sequence(shape, elevation_deg: float = 15.0,
                      azimuths_deg=(0.0, 90.0, 180.0, 270.0)) -> list[np.ndarray]:
    """The fixed low-angle sequence: one (H, W, 1) float32 map per azimuth (docstring)."""
    from scratchlight.lamps.footprint import lamp_footprint
    from scratchlight.lamps.geometry import Lamp

    out = []
    for az in azimuths_deg:
        lamp = Lamp(kind="bar", theta=math.radians(90.0 - elevation_deg),
                    alpha=math.radians(az), diameter=math.radians(10.0),
                    length=math.radians(60.0), power=1.0, orientation=0.0)
        F = lamp_footprint(lamp, tuple(shape))
        out.append((np.clip(F / F.max(), 0.0, 1.0))[..., None].astype(np.float32))
    return out


def optimized(surface: str, mask: str, args, shots: int,
              out_dir: str) -> tuple[list[np.ndarray], dict]:
    """The K optimized maps of ``optimize --shots K`` and its run.json."""
    from scratchlight.io import read_envmap
    from scratchlight.optimize import OptimizeConfig
    from scratchlight.session import run_optimization

    cfg = OptimizeConfig.from_options(
        heightmap=surface, max_size=0, no_level=True, resolution=args.resolution,
        exaggeration=1.0, iterations=args.iterations, final_spp=args.final_spp,
        final_sampler="independent",  # the judge its README figures were measured with
        shots=shots, seed=0, device="cpu", envmap_size=args.envmap_size, mask=mask)
    doc = run_optimization(cfg, out_dir, progress=False)
    names = ["envmap.exr"] if shots == 1 else [f"envmap_shot{k + 1}.exr" for k in range(shots)]
    return [read_envmap(os.path.join(out_dir, n))[..., :1] for n in names], doc


def planted_surface(args):
    """The surface the lights are optimized on: ``--kind`` synthesized with seed 100, or the
    ``--surface`` file resampled to ``--size``, with ``--scratches`` planted scratches (2 um
    deep, 30 um wide) and their truth mask."""
    from scratchlight.surface.synthetic import synthesize

    if not args.surface:
        return synthesize(args.kind, size=args.size, seed=100, scratches=args.scratches)
    from scratchlight.surface import SurfaceConfig, load_surface
    from scratchlight.surface.synthetic.defects import plant_scratches

    hm = load_surface(SurfaceConfig(path=args.surface, max_size=args.size))[1]
    removal, truth = plant_scratches(hm.shape, hm.dx, scratches=args.scratches, seed=100)
    return hm.replace(heights=hm.heights - removal, truth=truth)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kind", default="face-mill", help="synthetic surface kind")
    p.add_argument("--surface", default="",
                   help="a measured height-map file instead of a synthetic kind: the lights "
                        "are optimized on it with --scratches planted (seed 100) and pod "
                        "plants its sweep on it (placements of seeds POD_SEED ..)")
    p.add_argument("--size", type=int, default=128,
                   help="grid points per side (synthetic: at 5 um; a file: resampled so "
                        "neither side exceeds it)")
    p.add_argument("--resolution", type=int, default=96, help="image pixels per side")
    p.add_argument("--envmap-size", default="25x50")
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--final-spp", type=int, default=64)
    p.add_argument("--seeds", type=int, default=2, help="pod surface seeds")
    p.add_argument("--pod-seed", type=int, default=0,
                   help="pod's seed: surfaces POD_SEED .. POD_SEED+SEEDS-1, placement, noise")
    p.add_argument("--depths", default="0.25,0.5,1,2,4", help="scratch depths, um")
    p.add_argument("--shots", default="1,2,3,4", help="the K of the optimized sequences")
    p.add_argument("--lamp-elevation", type=float, default=15.0)
    p.add_argument("--mask", default="object", choices=("object", "truth"),
                   help="the optimized lights' mask: the whole surface (the paper's) or the "
                        "planted scratches of the surface optimized on (their truth mask "
                        "dilated by 2 points, as a region PNG)")
    p.add_argument("--scratches", type=int, default=3,
                   help="scratches planted in the surface optimized on")
    args = p.parse_args()

    from scratchlight.io import write_npz
    from scratchlight.pod import PodConfig
    from scratchlight.pod.measure import measure_defects
    from scratchlight.pod.run import pod_of_rows
    from scratchlight.pod.sequence import sequence_rows

    t0 = time.perf_counter()
    shape = tuple(int(v) for v in args.envmap_size.split("x"))
    lights, sequences, judged = {"uniform": np.full((*shape, 1), 0.5, np.float32)}, {}, {}
    sequences["uniform"] = ["uniform"]
    with tempfile.TemporaryDirectory(prefix="scratchlight-shots-") as tmp:
        surface, mask = os.path.join(tmp, "surface.npz"), "object"
        hm = planted_surface(args)
        write_npz(surface, hm)
        if args.mask == "truth":
            from scipy import ndimage

            from scratchlight.io import write_png

            mask = os.path.join(tmp, "truth.png")
            write_png(mask, ndimage.binary_dilation(hm.truth, iterations=2))
        for K in sorted({int(v) for v in args.shots.split(",")}):
            name = ("paper (K=1)" if args.mask == "object" else "optimized K=1") if K == 1 \
                else f"optimized K={K}"
            t = time.perf_counter()
            maps, doc = optimized(surface, mask, args, K, os.path.join(tmp, f"K{K}"))
            judged[name] = doc["objective_after"]["l_grad"]
            print(f"{name}: optimized in {time.perf_counter() - t:.1f} s, judged L_grad "
                  f"{judged[name]:.4g}", flush=True)
            sequences[name] = []
            for k, E in enumerate(maps):
                lights[f"{name} #{k + 1}"] = E
                sequences[name].append(f"{name} #{k + 1}")
        for k, E in enumerate(industry_sequence(shape, args.lamp_elevation)):
            lights[f"industry #{k + 1}"] = E
        sequences["industry 4 x low angle"] = [f"industry #{k + 1}" for k in range(4)]
    where = dict(heightmap=args.surface, max_size=args.size) if args.surface else \
        dict(kind=args.kind, size=args.size)
    cfg = PodConfig.from_options(**where, resolution=args.resolution,
                                 depths=args.depths, seeds=args.seeds, engine="transport",
                                 seed=args.pod_seed,
                                 device="cpu")
    t = time.perf_counter()
    measured = measure_defects(cfg, progress=False, lights=lights)
    print(f"pod: {len(lights)} lights, {len(measured['rows']) // len(lights)} scratches "
          f"measured in {time.perf_counter() - t:.1f} s", flush=True)
    rows = sequence_rows(measured["rows"], sequences)
    analyses = pod_of_rows(rows, cfg)
    depths = [float(v) for v in args.depths.split(",")]
    smallest, largest = min(depths), max(depths)

    def fmt(v):
        """A size in um; starred outside the depths swept (the fitted curve extrapolated)."""
        if v is None:
            return "-"
        text = f"{v:.2f}" if v < 1000 else f"{v:.1e}"
        return text + ("*" if not smallest <= v <= largest else "")

    print("\n| light | shots | judged L_grad | hits | a50 | a90 | a90/95 (LR) | median d' | "
          "weakest orientation (hit rate) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, a in analyses.items():
        mine = [r for r in rows if r["light"] == name and r["dprime"] is not None]
        hm = a["hit_miss"]
        a9095 = fmt(hm["a90_95"]) if hm["status"] == "fitted" else f"- ({hm['status']})"
        worst = min(a["orientation"], key=lambda o: (o["hit_rate"], o["median_dprime"]))
        objective = f"{judged[name]:.2f}" if name in judged else "-"
        print(f"| {name} | {len(sequences[name])} | {objective} | {a['hits']} / "
              f"{a['measured']} | {fmt(hm['a50'])} | {fmt(hm['a90'])} | {a9095} | "
              f"{np.median([r['dprime'] for r in mine]):.2f} | "
              f"{worst['orientation_deg']:g} deg ({100 * worst['hit_rate']:.0f} %) |")
    print(f"\n* outside the depths swept ({smallest:g} to {largest:g} um): extrapolated")
    print(f"{time.perf_counter() - t0:.0f} s in all; load average "
          f"{os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()

"""Which judging render is as good as today's at less cost (issue 26, part 1)?

The paper's judge is an independent Mitsuba render at 256 spp with the independent
sampler. This script renders one light on `milled-face.sur` with other samplers and sample
counts and measures, against a high-spp reference render (independent sampler):

- the image error: RMSE over the surface's pixels (linear RGB);
- the paper's L_grad of the image (1 / masked mean |grad Y|; it rewards noise, so it moves
  with the noise level: mean and standard deviation over ``--seeds`` seeds);
- the time of one render (one process, the scene built once; kernels compiled beforehand),
  wall and CPU (user and system over all threads: Mitsuba's renders keep every core busy,
  so the CPU time is what a render takes from the rest of a command on a busy machine).

Two integrators: `path`, the scene's (Mitsuba's path tracer: emitter and BSDF sampling, as
the judge renders), and `prb_basic` (BSDF sampling only). ``--roughness`` sets the metal's;
``--light patch`` is a dim 8 x 16 light (0.05) with one bright patch (1.0) that the default
metal's highlights miss, so only the GGX tails reach it (the spot light of
tests/report/test_judge.py).

Every render is one pass: Mitsuba's low-discrepancy samplers stratify over all the samples
of a pixel, and a render in passes of fewer samples loses that (the "4 passes" row).

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/judge_samplers.py            # 256^2, ref 4096 spp
    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/judge_samplers.py --resolution 128 --reference-spp 1024
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")
CASES = [("path", "independent", 256, 1), ("path", "independent", 64, 1),
         ("path", "ldsampler", 64, 1), ("path", "multijitter", 64, 1),
         ("path", "ldsampler", 64, 4), ("path", "ldsampler", 128, 2),
         ("prb_basic", "ldsampler", 64, 1), ("prb_basic", "independent", 256, 1)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--reference-spp", type=int, default=4096)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--roughness", type=float, default=None,
                    help="the metal's GGX alpha (default: the scene's, 0.02)")
    ap.add_argument("--light", choices=("constant", "patch"), default="constant",
                    help="the light when no --envmap is given")
    ap.add_argument("--envmap", default=None,
                    help="the light (an optimize run's envmap.exr); default constant 0.5")
    args = ap.parse_args(argv)

    from scratchlight.optimize.config import LightConfig
    from scratchlight.scene.build import SceneSpec, units_per_metre
    from scratchlight.scene.camera import sensor_dict
    from scratchlight.session import Session

    session = Session(os.path.join(DATA, "milled-face.sur"), progress=False,
                      scene=dataclasses.replace(SceneSpec(), width=args.resolution,
                                                height=args.resolution,
                                                **({} if args.roughness is None else
                                                   {"roughness": args.roughness})))
    import mitsuba as mi

    if args.envmap:
        from scratchlight.io.images import read_exr
        E = np.asarray(read_exr(args.envmap), np.float32)[..., :1]
    elif args.light == "patch":
        E = np.full((8, 16, 1), 0.05, np.float32)
        E[2:4, 5:8] = 1.0
    else:
        E = np.full((25, 50, 1), 0.5, np.float32)
    session.engine_pool.get("ad", session.scene, 16)._set_envmap(E, False)
    scene, spec, hm = session.scene.mitsuba_scene, session.scene.spec, session.scene.heightmap
    upm, (w, h) = units_per_metre(hm), hm.size_m
    half_z = float(np.ptp(hm.heights)) * upm * spec.exaggeration / 2 + 1e-6
    base = sensor_dict(spec.camera, w * upm / 2, h * upm / 2, half_z, spec.width, spec.height, 16)
    objective = session.objective_function(LightConfig(), session.mask)
    mask = session.object_mask

    integrators = {name: mi.load_dict({"type": name, "max_depth": spec.max_depth})
                   for name in ("path", "prb_basic")}

    def render(integrator: str, kind: str, spp: int, seed: int, passes: int = 1) -> np.ndarray:
        sensor = mi.load_dict({**base, "sampler": {"type": kind, "sample_count": 16}})
        acc = 0.0
        for k in range(passes):
            acc = acc + np.array(mi.render(scene, spp=spp // passes, seed=seed * 101 + k,
                                           sensor=sensor, integrator=integrators[integrator]),
                                 np.float64)[..., :3]
        return acc / passes

    for integrator, kind, spp, passes in CASES:  # compile the kernels outside the timings
        render(integrator, kind, spp // passes, 0)
    t0 = time.perf_counter()
    ref = render("path", "independent", args.reference_spp, 999,
                 passes=max(1, args.reference_spp // 256))
    print(f"reference: independent sampler, {args.reference_spp} spp, {time.perf_counter() - t0:.1f} s; "
          f"L_grad {objective(ref.astype(np.float32), E).l_grad:.2f}", file=sys.stderr)
    print(f"| integrator | sampler | spp | passes | RMSE vs reference | L_grad (mean +- sd over {args.seeds} seeds) | s per render | CPU s per render |")
    print("|---|---|---|---|---|---|---|---|")
    for integrator, kind, spp, passes in CASES:
        errors, lgrad, times, cpu = [], [], [], []
        for seed in range(args.seeds):
            t0, c0 = time.perf_counter(), time.process_time()
            img = render(integrator, kind, spp, seed, passes)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            errors.append(float(np.sqrt(np.mean((img - ref)[mask] ** 2))))
            lgrad.append(objective(img.astype(np.float32), E).l_grad)
        print(f"| {integrator} | {kind} | {spp} | {passes} | {np.mean(errors):.5f} | {np.mean(lgrad):.2f} +- "
              f"{np.std(lgrad):.2f} | {np.median(times):.2f} | {np.median(cpu):.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

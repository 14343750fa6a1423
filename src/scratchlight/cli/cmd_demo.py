"""scratchlight demo: the whole pipeline on a surface the project generates itself."""
from __future__ import annotations

import os

NAME = "demo"
HELP = "generate a face-milled surface with scratches and optimize its light (no download)"


OPTIONS = ("iterations", "resolution", "engine", "seed", "device")


def add_arguments(p):
    from ..optimize.config import OptimizeConfig
    from .flags import add_options

    p.add_argument("--out", default="out/demo", help="results folder (default out/demo)")
    p.add_argument("--size", type=int, default=384, help="surface grid size (default 384)")
    add_options(p, OptimizeConfig, OPTIONS)


def run(args) -> int:
    from ..io import write_npz
    from ..optimize.config import OptimizeConfig
    from ..session import run_optimization
    from ..surface import synthesize
    from ..options import check_declared
    from .cmd_optimize import plus_minus
    from .flags import given_options

    cfg = OptimizeConfig.from_options(**given_options(args, OptimizeConfig, OPTIONS))
    check_declared(cfg)  # a bad option fails before anything is written
    os.makedirs(args.out, exist_ok=True)
    surface = os.path.join(args.out, "surface.npz")
    hm = synthesize("face-mill", size=args.size, scratches=3, seed=cfg.seed)
    write_npz(surface, hm)
    print(f"generated {surface}: face-milled {hm.shape[1]} x {hm.shape[0]} surface "
          f"({hm.size_m[0] * 1e3:.2f} x {hm.size_m[1] * 1e3:.2f} mm) with 3 planted scratches")
    cfg = cfg.with_options(heightmap=os.path.abspath(surface))
    s = run_optimization(cfg, args.out, progress=True)
    b, a = s["objective_before"], s["objective_after"]
    print(f"optimized the light in {s['time_s']:.1f} s ({s['iterations_done']} iterations, "
          f"{s['engine']} engine, {s['engine_setup_s']:.1f} s of set-up); "
          f"{s['total_time_s']:.0f} s in all")
    print(f"judged objective ({b['renders']} + {a['renders']} renders at {a['spp']} spp): "
          f"before {plus_minus(b, 'loss')} -> after {plus_minus(a, 'loss')}; mean masked "
          f"image gradient {b['mean_gradient']:.4g} -> {a['mean_gradient']:.4g}")
    print(f"look at {os.path.join(args.out, 'compare.png')} (before | after | mask); "
          f"the light is {os.path.join(args.out, 'envmap.exr')}")
    return 0

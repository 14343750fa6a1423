"""scratchlight optimize: the paper's light optimization, with every option."""
from __future__ import annotations

import os

from ..errors import InputError
from ..optimize.config import LightConfig, OptimizerConfig
from ..optimize.init import INIT_KINDS
from .common import add_scene_options, scene_spec_from_args, surface_config_from_args

NAME = "optimize"
HELP = "optimize the environment light so the surface's scratches are most visible"


def add_arguments(p):
    p.add_argument("heightmap", nargs="?", help="height map file (not needed with --config)")
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--config", help="repeat a run: the run.json of an earlier results folder")
    g = p.add_argument_group("surface preparation")
    g.add_argument("--max-size", type=int, default=1024, help="resample grid to at most this many points a side")
    g.add_argument("--no-level", action="store_true", help="do not subtract the best-fit plane")
    g.add_argument("--crop", metavar="X0,Y0,NX,NY", help="keep this window of the grid (cells)")
    o = p.add_argument_group("light and objective")
    o.add_argument("--color", choices=("gray", "rgb"), default="gray",
                   help="gray: one channel for R, G, B (default); rgb: three channels")
    o.add_argument("--envmap-size", default="25x50", metavar="HxW",
                   help="environment map rows x columns (default 25x50)")
    o.add_argument("--init", default="constant:0.5",
                   help="constant[:V] (default 0.5), random, specular, or an .exr/.hdr/.png file")
    o.add_argument("--mask", default="object",
                   help="object (default), scratch (the scratch map), or a PNG in height-map coordinates")
    o.add_argument("--scratch-kernel", type=int, default=21, help="scratch map moving-average kernel (21)")
    o.add_argument("--scratch-patch", type=int, default=40, help="scratch map patch size (40)")
    o.add_argument("--scratch-threshold", type=float, default=0.03, help="scratch map threshold (0.03)")
    o.add_argument("--l2-target", choices=("env", "image", "none"), default="env",
                   help="L2 term on the envmap (default, the paper's), the image, or none")
    o.add_argument("--lam", type=float, help="L2 weight (default 30 gray, 10 rgb)")
    o.add_argument("--objective", choices=("gradient", "defect-contrast"), default="gradient",
                   help="gradient: the paper's L_grad over the mask (default); "
                        "defect-contrast: gradients inside the mask (the prior of where "
                        "defects are) relative to the rest of the surface")
    a = p.add_argument_group("optimizer")
    a.add_argument("--lr", type=float, default=0.02, help="Adam learning rate (0.02)")
    a.add_argument("--iterations", type=int, default=100, help="Adam steps (100)")
    a.add_argument("--final-spp", type=int, default=256,
                   help="spp of the before/after renders the result is judged on (256)")
    a.add_argument("--engine", choices=("auto", "ad", "transport"), default="auto",
                   help="auto (default): the transport engine when its matrices fit the "
                        "memory budget, else ad; ad: a Mitsuba render per iteration (the "
                        "paper's exact loop); transport: precomputed transport matrices")
    a.add_argument("--memory-budget", type=float, metavar="GIB",
                   help="engine auto: memory the transport matrices may take, GiB "
                        "(default a quarter of the machine's)")
    a.add_argument("--transport-noise", choices=("matched", "none"), default="matched",
                   help="transport engine: add the Monte Carlo noise of a Mitsuba render to "
                        "each iteration's image (matched, default), or keep T's noise-free "
                        "images (none)")
    a.add_argument("--transport-warmup", type=int, default=5, metavar="N",
                   help="transport engine: render the first N iterations with Mitsuba at a "
                        "quarter of --spp, which decide where the run goes (default 5; 0 "
                        "for none)")
    add_scene_options(p, resolution="256", spp=16)
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args):
    """The run's OptimizeConfig: from ``--config`` (``--device`` may override) or the flags."""
    from ..optimize.config import OptimizeConfig

    if args.config:
        cfg = OptimizeConfig.from_json(args.config)
        if args.device != "auto":
            cfg.device = args.device
        if args.memory_budget is not None:
            cfg.optimizer.memory_budget_gib = args.memory_budget
        cfg.validate()
        return cfg
    surface = surface_config_from_args(args)
    spec = scene_spec_from_args(args)
    try:
        h, w = (int(v) for v in args.envmap_size.lower().split("x"))
    except ValueError:
        raise InputError("--envmap-size", f"expected HxW, e.g. 25x50, got {args.envmap_size!r}") from None
    light = LightConfig(
        color=args.color, envmap_size=(h, w),
        init=args.init if args.init.split(":")[0] in INIT_KINDS else os.path.abspath(args.init),
        mask=args.mask if args.mask in ("object", "scratch") else os.path.abspath(args.mask),
        scratch_kernel=args.scratch_kernel, scratch_patch=args.scratch_patch,
        scratch_threshold=args.scratch_threshold, l2_target=args.l2_target, lam=args.lam,
        objective=args.objective)
    optimizer = OptimizerConfig(lr=args.lr, iterations=args.iterations, spp=args.spp,
                                final_spp=args.final_spp, engine=args.engine,
                                transport_noise=args.transport_noise,
                                transport_warmup=args.transport_warmup,
                                memory_budget_gib=args.memory_budget)
    cfg = OptimizeConfig(surface=surface, scene=spec, light=light, optimizer=optimizer,
                         seed=args.seed, device=args.device)
    cfg.validate()
    return cfg


def run(args) -> int:
    from ..session import run_optimization

    cfg = config_from_args(args)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(args.out, "exists and is not a folder")
    s = run_optimization(cfg, args.out, progress=not args.quiet)
    b, a = s["objective_before"], s["objective_after"]
    note = " (interrupted: best map so far kept)" if s["interrupted"] else ""
    setup = f" after {s['engine_setup_s']:.1f} s of engine set-up" if s["engine_setup_s"] > 0.5 else ""
    choice = s.get("engine_choice")
    print(f"{s['iterations_done']} iterations in {s['time_s']:.1f} s{setup}{note}, {s['engine']} "
          f"engine" + (f" (auto: {choice['reason']})" if choice else ""))
    print(f"objective at {cfg.optimizer.final_spp} spp: before {b['loss']:.4g} "
          f"(L_grad {b['l_grad']:.4g}), after {a['loss']:.4g} (L_grad {a['l_grad']:.4g})")
    print(f"results in {args.out}: envmap.exr, envmap.png, before.png, after.png, compare.png, "
          f"loss.png, run.json (repeat with --config {os.path.join(args.out, 'run.json')})")
    return 0

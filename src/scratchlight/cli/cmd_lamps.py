"""scratchlight lamps: turn an optimized light into a few lamps or an LED dome's settings."""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from .common import (add_config_option, add_heightmap_options, add_run_options,
                     add_scene_options, scene_spec_from_args, surface_config_from_args)

NAME = "lamps"
HELP = ("fit K lamps (or an LED dome's channel levels) to the scratch objective, report "
        "K = 1..8 against the full light, and export the rig (table, Mitsuba XML, Blender)")


def add_arguments(p):
    p.add_argument("light", nargs="?", help="a results folder of 'optimize' (its envmap.exr, "
                   "scene and objective) or an environment map (.exr .hdr .png, 2:1 lat-long)")
    add_heightmap_options(p, optional=True)
    p.add_argument("--out", required=True, help="output folder")
    add_config_option(p)
    g = p.add_argument_group("lamps")
    g.add_argument("--count", type=int, help="lamps of the exported rig (default: the "
                   "recommended count)")
    g.add_argument("--max-count", type=int, default=8,
                   help="report K = 1 .. this many lamps (default 8)")
    g.add_argument("--kind", choices=("disc", "bar"), default="disc",
                   help="disc: small area lamp (default); bar: line/bar light")
    g.add_argument("--dome", metavar="LAYOUT.csv", help="optimize the levels of an LED dome's "
                   "channels instead (a layout CSV, or 'ring-dome' for the built-in one)")
    g.add_argument("--iterations", type=int, default=150, help="Adam steps per fit (150)")
    g.add_argument("--lr", type=float, default=0.1,
                   help="Adam learning rate in texel spacings (0.1)")
    g.add_argument("--threshold", type=float, default=0.1,
                   help="texels at >= this fraction of the brightest form clusters (0.1)")
    g.add_argument("--min-elevation", type=float, default=0.0,
                   help="lowest lamp above the part's plane, degrees (0)")
    g.add_argument("--min-diameter", type=float, default=2.0, help="degrees (2)")
    g.add_argument("--max-diameter", type=float, default=40.0, help="degrees (40)")
    o = p.add_argument_group("objective (with a results folder: taken from its run.json)")
    o.add_argument("--mask", default="object",
                   help="object (default), scratch, or a PNG in height-map coordinates")
    o.add_argument("--lam", type=float, help="L2 weight (default 30)")
    o.add_argument("--l2-target", choices=("env", "image", "none"), default="env")
    j = p.add_argument_group("judging")
    j.add_argument("--final-spp", type=int, default=128,
                   help="spp of the Mitsuba renders every rig is judged on (128)")
    j.add_argument("--seeds", type=int, default=1, help="renders per rig for the metrics (1)")
    add_scene_options(p, resolution="256", spp=16)
    add_run_options(p)
    p.add_argument("--quiet", action="store_true", help="print only the summary")


def config_from_args(args):
    """The LampsConfig of ``--config`` or of the flags; a results folder's run.json gives
    the surface preparation, scene and objective (the scene flags are then not used)."""
    from ..config import read_config
    from ..lamps.config import LampsConfig, RigConfig, resolve_light
    from ..optimize.config import LightConfig, OptimizeConfig

    if args.config:
        cfg = read_config(args.config, LampsConfig, command=NAME)
        if args.device != "auto":
            cfg.device = args.device
        cfg.validate()
        return cfg
    if not args.light:
        raise InputError("light", "give the light: a results folder or an environment map "
                                  "(or --config FILE)")
    source, run_json = resolve_light(args.light)
    rig = RigConfig(count=args.count, max_count=args.max_count, kind=args.kind,
                    dome=(args.dome if not args.dome or not os.path.exists(args.dome)
                          else os.path.abspath(args.dome)),
                    iterations=args.iterations, lr=args.lr, threshold=args.threshold,
                    min_elevation=args.min_elevation, min_diameter=args.min_diameter,
                    max_diameter=args.max_diameter)
    rig.validate()
    if run_json is not None:
        run = OptimizeConfig.from_json(run_json)
        surface, scene, light = run.surface, run.scene, run.light
        if args.heightmap:
            surface = dataclasses.replace(surface, path=os.path.abspath(args.heightmap))
    else:
        surface, scene = surface_config_from_args(args), scene_spec_from_args(args)
        light = LightConfig(mask=args.mask if args.mask in ("object", "scratch")
                            else os.path.abspath(args.mask), l2_target=args.l2_target,
                            lam=args.lam)
    cfg = LampsConfig(source=source, surface=surface, scene=scene, light=light, lamps=rig,
                      spp=args.spp, final_spp=args.final_spp, seeds=args.seeds,
                      seed=args.seed, device=args.device)
    cfg.validate()
    return cfg


def run(args) -> int:
    from ..lamps.run import run_lamps

    cfg = config_from_args(args)
    s = run_lamps(cfg, args.out, progress=not args.quiet)
    full = s["full"]
    print(f"full map: objective {full['loss']:.4g} (judged at {cfg.final_spp} spp)")
    for row in s["rigs"]:
        print(f"  {row['rig']:>12}: objective {row['loss']:.4g} ({100 * row['loss_vs_full']:.0f} % "
              f"of the full map's)")
    if s["mode"] == "lamps":
        how = "within 5 % of the full map" if s["recommended_within_tolerance"] else \
              "none within 5 %: the best"
        print(f"recommended: {s['recommended_count']} lamp(s) ({how}); exported "
              f"{s['exported_count']} to {os.path.join(args.out, 'lamps.csv')}")
    print(f"results in {args.out}: {', '.join(s['files'])} "
          f"(repeat with --config {os.path.join(args.out, 'run.json')})")
    return 0

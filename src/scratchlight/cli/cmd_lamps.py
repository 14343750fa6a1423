"""scratchlight lamps: turn an optimized light into a few lamps or an LED dome's settings."""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from .common import (RUN_OPTIONS, SCENE_OPTIONS, SURFACE_OPTIONS, add_config_option,
                     add_heightmap_options, add_run_options, add_scene_options, replay)
from .flags import add_options, given_options

NAME = "lamps"
HELP = ("fit K lamps (or an LED dome's channel levels) to the scratch objective, report "
        "K = 1..8 against the full light, and export the rig (table, Mitsuba XML, Blender)")


RIG_OPTIONS = ("count", "max_count", "kind", "dome", "iterations", "lr", "threshold",
               "min_elevation", "min_diameter", "max_diameter")
OBJECTIVE_OPTIONS = ("mask", "lam", "l2_target")
JUDGING_OPTIONS = ("final_spp", "seeds")


def add_arguments(p):
    from ..lamps.config import LampsConfig

    add_options(p, LampsConfig, ["light"])
    add_heightmap_options(p, LampsConfig)
    p.add_argument("--out", required=True, help="output folder")
    add_config_option(p)
    add_options(p, LampsConfig, RIG_OPTIONS, "lamps")
    add_options(p, LampsConfig, OBJECTIVE_OPTIONS,
                "objective (with a results folder: taken from its run.json)")
    add_options(p, LampsConfig, JUDGING_OPTIONS, "judging")
    add_scene_options(p, LampsConfig)
    add_run_options(p, LampsConfig)
    p.add_argument("--quiet", action="store_true", help="print only the summary")


def config_from_args(args):
    """The LampsConfig of ``--config`` or of the flags; a results folder's run.json gives
    the surface preparation, scene and objective (the scene flags are then not used)."""
    from ..lamps.config import LampsConfig, resolve_light
    from ..optimize.config import OptimizeConfig
    from ..options import config_from_options

    if args.config:
        cfg = replay(args, LampsConfig, NAME)
        cfg.validate()
        return cfg
    if not args.light:
        raise InputError("light", "give the light: a results folder or an environment map "
                                  "(or --config FILE)")
    source, run_json = resolve_light(args.light)
    names = (*RIG_OPTIONS, *JUDGING_OPTIONS, *RUN_OPTIONS, "spp")
    if run_json is None:
        if not args.heightmap:
            raise InputError("heightmap", "give a height map file (or --config FILE)")
        names += ("heightmap", *SURFACE_OPTIONS, *SCENE_OPTIONS, *OBJECTIVE_OPTIONS)
    cfg = config_from_options(LampsConfig, given_options(args, LampsConfig, names),
                              base_dir=os.getcwd(), from_flag=True)
    cfg = dataclasses.replace(cfg, source=source)
    cfg.lamps.validate()
    if run_json is not None:
        run = OptimizeConfig.from_json(run_json)
        surface = run.surface
        if args.heightmap:
            surface = dataclasses.replace(surface, path=os.path.abspath(args.heightmap))
        cfg = dataclasses.replace(cfg, surface=surface, scene=run.scene, light=run.light)
    cfg.validate()
    return cfg


def run(args) -> int:
    from ..lamps.run import run_lamps
    from ..lamps.sequence import run_lamps_sequence, sequence_lights

    cfg = config_from_args(args)
    shots = None if args.config else sequence_lights(os.path.abspath(args.light))
    if shots:  # a multi-shot results folder: one rig per shot, one table
        doc = run_lamps_sequence(cfg, shots, args.out, progress=not args.quiet)
        for shot in doc["per_shot"]:
            print(f"  shot {shot['shot']}: full map {shot['full_loss']:.4g}, rig "
                  f"{shot['rig_loss']:.4g} (in {os.path.join(args.out, shot['folder'])})")
        print(f"sequence of {doc['shots']} shots in {os.path.join(args.out, 'sequence.csv')} "
              f"(one rig per shot: repeat a shot with --config "
              f"{os.path.join(args.out, 'shot1', 'run.json')})")
        return 0
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

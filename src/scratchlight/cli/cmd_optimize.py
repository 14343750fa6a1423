"""scratchlight optimize: the paper's light optimization, with every option."""
from __future__ import annotations

import os

from ..errors import InputError
from .common import (RUN_OPTIONS, SCENE_OPTIONS, SURFACE_OPTIONS, add_heightmap_options,
                     add_run_options, add_scene_options)
from .flags import add_options, config_from_args as _from_flags

NAME = "optimize"
HELP = "optimize the environment light so the surface's scratches are most visible"


LIGHT_OPTIONS = ("color", "envmap_size", "init", "mask", "scratch_kernel", "scratch_patch",
                 "scratch_threshold", "l2_target", "lam", "objective", "shots", "shot_power",
                 "shot_tiles")
OPTIMIZER_OPTIONS = ("lr", "iterations", "final_spp", "final_sampler", "final_precision", "engine",
                     "memory_budget_gib", "transport_noise", "transport_warmup")
JUDGE_OPTIONS = ("twin",)
ROBUST_OPTIONS = ("over", "over_target", "held_out")


def add_arguments(p):
    from ..optimize.config import OptimizeConfig

    add_heightmap_options(p, OptimizeConfig)
    p.add_argument("--out", required=True, help="results folder")
    p.add_argument("--config", help="repeat a run: the run.json of an earlier results folder")
    add_options(p, OptimizeConfig, LIGHT_OPTIONS, "light and objective")
    add_options(p, OptimizeConfig, OPTIMIZER_OPTIONS, "optimizer")
    add_options(p, OptimizeConfig, JUDGE_OPTIONS, "judging")
    add_options(p, OptimizeConfig, ROBUST_OPTIONS, "a light that holds for a set of surfaces")
    add_scene_options(p, OptimizeConfig)
    add_run_options(p, OptimizeConfig)
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args):
    """The run's OptimizeConfig: from ``--config`` (``--device`` and ``--memory-budget`` may
    override) or the flags."""
    from ..optimize.config import OptimizeConfig

    if args.config:
        cfg = OptimizeConfig.from_json(args.config)
        if args.device:
            cfg.device = args.device
        if args.memory_budget_gib is not None:
            cfg = cfg.with_options(memory_budget_gib=args.memory_budget_gib)
        cfg.validate()
        return cfg
    if args.over:  # a set that names its own surfaces: its first member names the run
        from ..optimize.robust_set import first_member_file

        first = first_member_file(args.over)
        if first and args.heightmap:
            raise InputError("--over", "a set of seeds, synth.* or files names its own "
                                       "surfaces: give no height map")
        args.heightmap = args.heightmap or first
    if not args.heightmap:
        raise InputError("heightmap", "give a height map file (or --config FILE)")
    return _from_flags(args, OptimizeConfig, ("heightmap", *SURFACE_OPTIONS, *LIGHT_OPTIONS,
                                              *OPTIMIZER_OPTIONS, *JUDGE_OPTIONS, *SCENE_OPTIONS,
                                              *RUN_OPTIONS, *ROBUST_OPTIONS))


def plus_minus(term: dict, key: str) -> str:
    """``term[key]`` with its standard error where the judge measured one."""
    err = term.get(f"{key}_std_err")
    return f"{term[key]:.4g}" + ("" if err is None else f" +- {err:.2g}")


def judged_line(before: dict, after: dict, optimizer) -> str:
    """The printed objective of the before and after lights, with standard errors where
    the judge measured them (``report.judge``)."""
    renders = ""
    if "renders" in after:
        renders = f"{before['renders']} + {after['renders']} renders, "
    line = (f"objective ({renders}{optimizer.final_spp} spp, {optimizer.judge_sampler}): "
            f"before {plus_minus(before, 'loss')} (L_grad {plus_minus(before, 'l_grad')}), "
            f"after {plus_minus(after, 'loss')} (L_grad {plus_minus(after, 'l_grad')})")
    for name, judged in (("before", before), ("after", after)):
        if judged.get("precise") is False:
            line += (f"\nnote: after {judged['renders']} renders the standard error of the "
                     f"{name} objective is still above {optimizer.final_precision:g} of it; "
                     f"raise --final-spp for a more precise verdict")
    return line


def run(args) -> int:
    from ..session import run_optimization

    cfg = config_from_args(args)
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError(args.out, "exists and is not a folder")
    s = run_optimization(cfg, args.out, progress=not args.quiet)
    if cfg.over is not None:
        from ..report.robust_results import summary_lines

        print("\n".join(summary_lines(s)))
        print(f"results in {args.out}: envmap.exr (the set's light), envmap_single.exr, "
              f"robust.csv, compare.png, loss.png, members/, run.json (repeat with --config "
              f"{os.path.join(args.out, 'run.json')})")
        return 0
    b, a = s["objective_before"], s["objective_after"]
    note = " (interrupted: best map so far kept)" if s["interrupted"] else ""
    setup = f" after {s['engine_setup_s']:.1f} s of engine set-up" if s["engine_setup_s"] > 0.5 else ""
    choice = s.get("engine_choice")
    print(f"{s['iterations_done']} iterations in {s['time_s']:.1f} s{setup}{note}, {s['engine']} "
          f"engine" + (f" (auto: {choice['reason']})" if choice else ""))
    print(judged_line(b, a, cfg.optimizer))
    detect = s.get("detectability")
    if detect:
        npw = detect["npw"]
        se = "" if npw.get("stderr") is None else f" +- {npw['stderr']:.3g}"
        value = (f"{npw['overall']:.3g}{se}" if npw.get("overall") is not None
                 else f"none ({detect.get('note') or 'no visible defect'})")
        print(f"d' against the twin (display observer, {len(detect['seeds'])} seeds): {value}")
    if cfg.light.shots > 1:
        for shot in s["shots"]:
            print(f"  shot {shot['shot']}: shows {100 * shot['share']:.0f} % of the mask best "
                  f"(its own L_grad {shot['l_grad']:.4g})")
        print(f"results in {args.out}: envmap_shot1..{cfg.light.shots}.exr, after_shot*.png, "
              f"before.png, best_shot.png, compare.png, loss.png, run.json (repeat with "
              f"--config {os.path.join(args.out, 'run.json')})")
        return 0
    print(f"results in {args.out}: envmap.exr, envmap.png, before.png, after.png, compare.png, "
          f"loss.png, run.json (repeat with --config {os.path.join(args.out, 'run.json')})")
    return 0

"""scratchlight pod: probability of detection of planted scratches under a light."""
from __future__ import annotations

from ..errors import InputError
from .common import (SCENE_OPTIONS, SURFACE_OPTIONS, add_config_option, add_heightmap_options,
                     add_run_options, add_scene_options, replay)
from .flags import add_options, config_from_args as _from_flags

NAME = "pod"
HELP = ("plant scratches over a sweep of sizes and orientations, judge each by a model "
        "observer's d' through a camera model, and fit POD(a) with a90/95 (MIL-HDBK-1823A)")

SOURCE_OPTIONS = ("kind", "size")
SWEEP_OPTIONS = ("depths", "widths", "orientations", "seeds", "size_by", "grid",
                 "profile")
CAMERA_OPTIONS = ("exposure", "full_well", "read_noise", "frames")
JUDGE_OPTIONS = ("observer", "threshold", "window", "link", "bound", "engine", "renders")
OWN_OPTIONS = ("light", *SOURCE_OPTIONS, *SWEEP_OPTIONS, *CAMERA_OPTIONS, *JUDGE_OPTIONS)


def add_arguments(p):
    from ..pod import PodConfig

    add_heightmap_options(p, PodConfig)
    add_options(p, PodConfig, SOURCE_OPTIONS, "synthetic surface (without a height-map file)")
    add_options(p, PodConfig, ["light"])
    p.add_argument("--out", required=True, help="output folder: pod.json, pod.csv, pod.png, "
                                                "ahat.png, orientation.png, pod.html, run.json")
    add_config_option(p)
    add_options(p, PodConfig, SWEEP_OPTIONS, "defects swept")
    add_options(p, PodConfig, CAMERA_OPTIONS, "inspection camera")
    add_options(p, PodConfig, JUDGE_OPTIONS, "detection and fit")
    add_scene_options(p, PodConfig)
    add_run_options(p, PodConfig)


def config_from_args(args):
    from ..pod import PodConfig

    if args.config:
        cfg = replay(args, PodConfig, NAME)
        cfg.validate()
        return cfg
    names = ("heightmap", *SURFACE_OPTIONS, *SCENE_OPTIONS, "seed", "device", *OWN_OPTIONS)
    return _from_flags(args, PodConfig, names)


def _as_flag(e: InputError) -> InputError:
    """The error with a field of ``PodConfig`` named by its flag (``depths_um`` ->
    ``--depths``); other paths (files, flags) as they are."""
    from ..options import option_table
    from ..pod import PodConfig

    flags = {en.field: en.flag for en in option_table(PodConfig).values()
             if en.opt.cli and not en.negated}
    if e.path in flags:
        return InputError(flags[e.path], e.problem)
    return e


def run(args) -> int:
    import os

    from ..pod import run_pod

    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise InputError("--out", f"{args.out} is a file; give a folder")
    try:
        cfg = config_from_args(args)
        doc = run_pod(cfg, args.out)
    except InputError as e:
        raise _as_flag(e) from None
    for name, res in doc["lights"].items():
        hm = res["hit_miss"]
        head = f"{name}: {res['hits']} hits of {res['measured']} defects"
        if hm["status"] != "fitted":
            print(f"{head}; no POD curve: {hm['note']}")
            continue
        bound = f"{hm['a90_95']:.3g}" if hm["a90_95"] is not None else "not bounded"
        blind = ", ".join(f"{v:g}" for v in res["blind"])
        w = res["weakest"]
        print(f"{head}; {doc['size_by']} a50 {hm['a50']:.3g} um, a90 {hm['a90']:.3g} um, "
              f"a90/95 {bound} um" + (" (extrapolated)" if hm["extrapolated"] else "")
              + (f"; blind near {blind} deg" if blind else "")
              + f"; weakest at {w['orientation_deg']:g} deg (median d' {w['median_dprime']:.2g}, "
                f"{w['best_median_dprime']:.2g} at {w['best_orientation_deg']:g} deg)")
    print(f"wrote {args.out}/ ({doc['defects']} defects x {len(doc['lights'])} light(s), "
          f"{doc['renders']} renders, {doc['device']}, {doc['seconds']:.1f} s)")
    return 0

"""scratchlight evaluate: how visible the scratches are under a light, as numbers (JSON)."""
from __future__ import annotations

import math

from .common import (add_config_option, add_heightmap_options, add_run_options,
                     add_scene_options, check_output_path)

NAME = "evaluate"
HELP = ("render a height map under a light with several seeds at high spp and write "
        "visibility metrics (mean and standard error) as JSON")


def add_arguments(p):
    add_heightmap_options(p, optional=True)
    light = p.add_mutually_exclusive_group()
    light.add_argument("--envmap", help="lat-long environment map (.exr .hdr .png)")
    light.add_argument("--constant", type=float, help="uniform light of this radiance")
    truth = p.add_mutually_exclusive_group()
    truth.add_argument("--truth", metavar="MASK.png",
                       help="defect mask image in height-map coordinates (white = defect), "
                            "the size of the height-map grid")
    truth.add_argument("--truth-from-file", action="store_true",
                       help="use the height map file's own 'truth' mask (as written by "
                            "scratchlight synth); an error if it has none. Without --truth the "
                            "file's mask is used when present")
    p.add_argument("--out", required=True, help="metrics file (.json); it holds the config, so "
                                                "--config OUT.json repeats the evaluation")
    add_config_option(p)
    p.add_argument("--seeds", type=int, default=4,
                   help="number of independent renders (seeds SEED .. SEED+N-1; default 4)")
    p.add_argument("--image", help="also write the mean of the renders, tone-mapped (.png)")
    g = p.add_argument_group("metrics")
    g.add_argument("--weber-threshold", type=float, default=0.02,
                   help="Weber contrast a defect needs to count as seen (default 0.02)")
    g.add_argument("--guard", type=int, default=2,
                   help="pixels around defects that count for neither side (default 2)")
    g.add_argument("--twin", metavar="HEIGHTMAP",
                   help="the same surface without its defects (scratchlight synth --twin): "
                        "adds the detectability index d' of two model observers")
    g.add_argument("--window", type=int, default=16,
                   help="side of the observers' window, pixels (default 16)")
    g.add_argument("--viewing-distance", type=float, default=0.5, metavar="M",
                   help="perceived contrast: eye to display, metres (default 0.5)")
    g.add_argument("--pixel-pitch", type=float, default=0.25, metavar="MM",
                   help="perceived contrast: display pixel pitch, millimetres (default 0.25)")
    add_scene_options(p, spp=256)
    add_run_options(p)


def run(args) -> int:
    from ..renders import EvaluateConfig, save_evaluation
    from .cmd_render import config_from_args

    check_output_path(args.out, "--out", (".json",))
    if args.image:
        check_output_path(args.image, "--image", (".png",))
    cfg = config_from_args(args, EvaluateConfig, NAME, seeds=args.seeds,
                           truth=_abspath(args.truth), truth_from_file=args.truth_from_file,
                           weber_threshold=args.weber_threshold, guard=args.guard,
                           twin=_abspath(args.twin), window=args.window,
                           viewing_distance_m=args.viewing_distance,
                           pixel_pitch_m=args.pixel_pitch * 1e-3)
    report = save_evaluation(cfg, args.out, args.image)
    if report["defect_pixels"] == 0:
        print("warning: no defect pixel is visible in the image; truth metrics are null")
    shown = ("auc", "cnr", "detected_fraction", "mean_gradient", "perceived_contrast",
             "clipped_fraction")
    summary = ", ".join(
        f"{k} {v['mean']:.4g}" + (f" +- {v['stderr']:.2g}" if math.isfinite(v["stderr"]) else "")
        for k, v in {**report["metrics"], **report["perceived"]}.items() if k in shown)
    d = report["detectability"]
    if d is not None:
        summary += (f", d' NPW {d['npw']['overall']:.3g}, CHO {d['cho']['overall']:.3g}"
                    if d["npw"]["overall"] is not None else f", d' not measured ({d['note']})")
    print(f"wrote {args.out} ({cfg.seeds} seeds x {cfg.spp} spp, {report['device']}, "
          f"{report['seconds']:.1f} s): {summary}")
    return 0


def _abspath(path):
    import os

    return os.path.abspath(path) if path else None

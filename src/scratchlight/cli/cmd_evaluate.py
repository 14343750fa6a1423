"""scratchlight evaluate: how visible the scratches are under a light, as numbers (JSON)."""
from __future__ import annotations

import math

from .common import (add_config_option, add_heightmap_options, add_run_options,
                     add_scene_options, check_output_path)
from .flags import add_options

NAME = "evaluate"
HELP = ("render a height map under a light with several seeds at high spp and write "
        "visibility metrics (mean and standard error) as JSON")


METRIC_OPTIONS = ("weber_threshold", "guard", "twin", "window", "viewing_distance_m",
                  "pixel_pitch_m")
OWN_OPTIONS = ("truth", "truth_from_file", "seeds", *METRIC_OPTIONS)


def add_arguments(p):
    from ..renders import EvaluateConfig

    add_heightmap_options(p, EvaluateConfig)
    add_options(p, EvaluateConfig, ["envmap", "constant"], exclusive=True)
    add_options(p, EvaluateConfig, ["truth", "truth_from_file"], exclusive=True)
    p.add_argument("--out", required=True, help="metrics file (.json); it holds the config, so "
                                                "--config OUT.json repeats the evaluation")
    add_config_option(p)
    add_options(p, EvaluateConfig, ["seeds"])
    p.add_argument("--image", help="also write the mean of the renders, tone-mapped (.png)")
    add_options(p, EvaluateConfig, METRIC_OPTIONS, "metrics")
    add_scene_options(p, EvaluateConfig)
    add_run_options(p, EvaluateConfig)


def run(args) -> int:
    from ..renders import EvaluateConfig, save_evaluation
    from .cmd_render import config_from_args

    check_output_path(args.out, "--out", (".json",))
    if args.image:
        check_output_path(args.image, "--image", (".png",))
    cfg = config_from_args(args, EvaluateConfig, NAME, OWN_OPTIONS)
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


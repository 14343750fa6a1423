"""scratchlight evaluate: how visible the scratches are under a light, as numbers (JSON)."""
from __future__ import annotations

import json
import math
import os
import time

from .common import (add_heightmap_options, add_run_options, add_scene_options,
                     check_output_path, light_from_args, load_surface, scene_spec_from_args,
                     select_device)

NAME = "evaluate"
HELP = ("render a height map under a light with several seeds at high spp and write "
        "visibility metrics (mean and standard error) as JSON")


def add_arguments(p):
    add_heightmap_options(p)
    light = p.add_mutually_exclusive_group(required=True)
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
    p.add_argument("--out", required=True, help="metrics file (.json)")
    p.add_argument("--seeds", type=int, default=4,
                   help="number of independent renders (seeds SEED .. SEED+N-1; default 4)")
    p.add_argument("--image", help="also write the mean of the renders, tone-mapped (.png)")
    g = p.add_argument_group("metrics")
    g.add_argument("--weber-threshold", type=float, default=0.02,
                   help="Weber contrast a defect needs to count as seen (default 0.02)")
    g.add_argument("--guard", type=int, default=2,
                   help="pixels around defects that count for neither side (default 2)")
    add_scene_options(p, spp=256)
    add_run_options(p)


def _load(args):
    """Read the height map, attach the truth mask, prepare; return (HeightMap, truth source)."""
    from ..errors import InputError
    from ..io import read_png_mask

    source = []

    def attach_truth(hm):
        if args.truth:
            mask = read_png_mask(args.truth)
            if mask.shape != hm.shape:
                raise InputError(args.truth, f"mask of {mask.shape[1]} x {mask.shape[0]} pixels "
                                             f"does not match the {hm.shape[1]} x {hm.shape[0]} "
                                             f"height-map grid")
            source.append(args.truth)
            return hm.replace(truth=mask)
        if hm.truth is not None:
            source.append("heightmap file")
        elif args.truth_from_file:
            raise InputError(args.heightmap, "has no ground-truth 'truth' mask (--truth-from-file)")
        return hm

    hm = load_surface(args, before_prepare=attach_truth)
    return hm, (source[0] if source else None)


def _finite_or_none(x):
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def run(args) -> int:
    import numpy as np

    from ..engines import ADEngine
    from ..errors import InputError
    from ..io import write_png
    from ..io.atomic import atomic_path
    from ..report.metrics import metrics_over_seeds
    from ..scene import build_scene

    check_output_path(args.out, "--out", (".json",))
    if args.image:
        check_output_path(args.image, "--image", (".png",))
    if args.seeds < 1:
        raise InputError("--seeds", f"must be at least 1, got {args.seeds}")
    if not math.isfinite(args.weber_threshold) or args.weber_threshold <= 0:
        raise InputError("--weber-threshold",
                         f"must be a positive number, got {args.weber_threshold}")
    if args.guard < 0:
        raise InputError("--guard", f"must be >= 0, got {args.guard}")
    spec = scene_spec_from_args(args)
    light = light_from_args(args.envmap, args.constant)
    hm, truth_source = _load(args)
    variant = select_device(args)
    t0 = time.perf_counter()
    scene = build_scene(hm, spec, envmap=light)
    mask = scene.object_mask
    truth = None if hm.truth is None else scene.cell_mask_to_image(hm.truth) & mask
    seeds = [args.seed + k for k in range(args.seeds)]
    engine = ADEngine(scene)
    images = [engine.render_progressive(light, args.spp, seed=s, progress=f"seed {s}")
              for s in seeds]
    metrics = metrics_over_seeds(images, mask, truth, guard=args.guard,
                                 threshold=args.weber_threshold)
    if args.image:
        write_png(args.image, np.mean(images, axis=0))
    report = {
        "heightmap": os.fspath(args.heightmap),
        "light": {"envmap": args.envmap} if args.envmap else {"constant": args.constant},
        "truth": truth_source,
        "grid": [int(hm.shape[1]), int(hm.shape[0])],
        "resolution": [spec.width, spec.height],
        "spp": args.spp,
        "seeds": seeds,
        "scene": {"material": spec.material, "roughness": spec.roughness,
                  "exaggeration": spec.exaggeration, "camera": spec.camera.preset,
                  "elevation_deg": spec.camera.elevation_deg,
                  "azimuth_deg": spec.camera.azimuth_deg, "fov_deg": spec.camera.fov_deg,
                  "max_depth": spec.max_depth},
        "device": variant,
        "surface_pixels": int(mask.sum()),
        "defect_pixels": None if truth is None else int(truth.sum()),
        "metric_options": {"weber_threshold": args.weber_threshold, "guard": args.guard,
                           "gradient_sigma_px": 1.0, "contrast_sigma_px": 3.0, "ring_px": 4,
                           "min_defect_pixels": 5, "black_level": 1e-3},
        "metrics": metrics,
        "seconds": round(time.perf_counter() - t0, 2),
    }
    with atomic_path(args.out, suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(_finite_or_none(report), f, indent=2)
            f.write("\n")
    if truth is not None and not truth.any():
        print("warning: no defect pixel is visible in the image; truth metrics are null")
    shown = ("auc", "cnr", "detected_fraction", "mean_gradient", "clipped_fraction")
    summary = ", ".join(
        f"{k} {v['mean']:.4g}" + (f" +- {v['stderr']:.2g}" if math.isfinite(v["stderr"]) else "")
        for k, v in metrics.items() if k in shown)
    print(f"wrote {args.out} ({len(seeds)} seeds x {args.spp} spp, {variant}, "
          f"{report['seconds']:.1f} s): {summary}")
    return 0

"""scratchlight fit: recover the light (and roughness) of a height-map scene from images."""
from __future__ import annotations

import json
import os
import time

import numpy as np

from ..errors import InputError
from .common import add_heightmap_options, load_surface, parse_floats, select_device

NAME = "fit"
HELP = ("recover the environment light and the roughness of a height-map scene from one or "
        "more target images (inverse rendering, optionally on an adaptive subset of pixels)")


def add_arguments(p):
    add_heightmap_options(p)
    p.add_argument("--target", nargs="+", required=True, metavar="IMG",
                   help="target image(s), one per camera: EXR/HDR linear or PNG/JPEG sRGB; "
                        "all of the same size, which sets the render resolution")
    p.add_argument("--camera", nargs="+", default=["oblique"], metavar="CAM",
                   help="one camera, or one per target: oblique[:AZIMUTH[:ELEVATION]] "
                        "(degrees; default oblique = 0:45), top, or custom:X,Y,Z")
    p.add_argument("--fov", type=float, default=30.0, help="horizontal field of view, degrees (30)")
    p.add_argument("--out", required=True, help="results folder")
    f = p.add_argument_group("fitting")
    f.add_argument("--params", default="envmap,roughness",
                   help="what to fit: envmap, roughness or both (default envmap,roughness)")
    f.add_argument("--sampling", default="adaptive",
                   help="pixels per iteration: full, uniform, grad (|dL/dI|) or adaptive (default)")
    f.add_argument("--budget", type=float, default=0.125,
                   help="fraction of the pixels rendered per iteration (default 0.125)")
    f.add_argument("--iterations", type=int, default=200, help="Adam steps (200)")
    f.add_argument("--lr", type=float, default=0.02, help="Adam learning rate (0.02)")
    f.add_argument("--lr-roughness", type=float, help="learning rate of the roughness (default --lr)")
    f.add_argument("--loss", default="l2", help="l2 (default) or rel-l2")
    f.add_argument("--spp", type=int, default=8, help="samples per rendered pixel per iteration (8)")
    f.add_argument("--refresh", type=int, default=20,
                   help="iterations between refreshes of the adaptive sampling maps (20)")
    f.add_argument("--refresh-pairs", type=int, default=4,
                   help="pairs of renders per map refresh, one random direction each (4)")
    f.add_argument("--refresh-spp", type=int, default=2,
                   help="samples per pixel of the map-refresh renders (2)")
    f.add_argument("--cost-aware", action="store_true",
                   help="adapted samplers divide the importance by sqrt(measured per-pixel "
                        "render cost): surface pixels cost several times more than background")
    f.add_argument("--final-spp", type=int, default=64, help="spp of the fitted image (64)")
    s = p.add_argument_group("scene and initial state")
    s.add_argument("--material", default="aluminium", help="metal preset (aluminium)")
    s.add_argument("--roughness", type=float, default=0.1,
                   help="initial GGX alpha, or the fixed one when it is not fitted (0.1)")
    s.add_argument("--exaggeration", type=float, default=1.0, help="height exaggeration (1)")
    s.add_argument("--max-depth", type=int, default=3, help="path depth (3)")
    s.add_argument("--color", choices=("gray", "rgb"), default="gray",
                   help="gray: one channel drives R, G, B (default); rgb")
    s.add_argument("--envmap-size", default="25x50", metavar="HxW",
                   help="environment map rows x columns (default 25x50)")
    s.add_argument("--init", default="constant:0.5",
                   help="initial light: constant[:V] (default 0.5), random, or an image file")
    t = p.add_argument_group("known truth (synthetic targets)")
    t.add_argument("--truth-envmap", help="the true light, for the parameter error")
    t.add_argument("--truth-roughness", type=float, help="the true GGX alpha")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_camera(text: str, fov: float):
    """'oblique[:AZ[:EL]]', 'top' or 'custom:X,Y,Z' -> CameraSpec."""
    from ..scene import CameraSpec

    kind, _, rest = text.partition(":")
    if kind == "top" and not rest:
        return CameraSpec(preset="top", fov_deg=fov)
    if kind == "oblique":
        parts = [v for v in rest.split(":") if v] if rest else []
        try:
            nums = [float(v) for v in parts]
        except ValueError:
            raise InputError("--camera", f"expected oblique[:AZIMUTH[:ELEVATION]], got {text!r}") from None
        if len(nums) > 2 or not all(np.isfinite(nums)):
            raise InputError("--camera", f"expected oblique[:AZIMUTH[:ELEVATION]], got {text!r}")
        az = nums[0] if nums else 0.0
        el = nums[1] if len(nums) > 1 else 45.0
        if not 0.0 < el <= 90.0:
            raise InputError("--camera", f"elevation must be in (0, 90] degrees, got {el}")
        return CameraSpec(preset="oblique", azimuth_deg=az, elevation_deg=el, fov_deg=fov)
    if kind == "custom":
        origin = parse_floats(rest, 3, "--camera")
        return CameraSpec(preset="custom", origin=origin, fov_deg=fov)
    raise InputError("--camera", f"expected oblique[:AZ[:EL]], top or custom:X,Y,Z, got {text!r}")


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--envmap-size", f"expected HxW, e.g. 25x50, got {text!r}") from None
    if h < 2 or w < 4:
        raise InputError("--envmap-size", f"must be at least 2 x 4, got {text!r}")
    return h, w


def _check_args(args):
    from ..fit.fitter import FitConfig

    params = tuple(v.strip() for v in args.params.split(",") if v.strip())
    cfg = FitConfig(params=params, sampling=args.sampling, budget=args.budget,
                    iterations=args.iterations, lr=args.lr, lr_roughness=args.lr_roughness,
                    loss=args.loss, spp=args.spp, seed=args.seed, refresh=args.refresh,
                    refresh_pairs=args.refresh_pairs, refresh_spp=args.refresh_spp,
                    cost_aware=args.cost_aware)
    cfg.validate()
    if args.final_spp < 1:
        raise InputError("--final-spp", f"must be at least 1, got {args.final_spp}")
    if not 0.0 <= args.roughness <= 1.0:
        raise InputError("--roughness", f"must be in [0, 1], got {args.roughness}")
    if "roughness" in params and args.roughness <= 0.0:
        raise InputError("--roughness", "fitting the roughness needs an initial value > 0 "
                                        "(0 is a smooth mirror)")
    if not args.exaggeration > 0:
        raise InputError("--exaggeration", f"must be positive, got {args.exaggeration}")
    if args.max_depth < 2:
        raise InputError("--max-depth", f"must be at least 2, got {args.max_depth}")
    if not 1.0 <= args.fov < 170.0:
        raise InputError("--fov", f"must be in [1, 170) degrees, got {args.fov}")
    if args.truth_roughness is not None and not 0.0 <= args.truth_roughness <= 1.0:
        raise InputError("--truth-roughness", f"must be in [0, 1], got {args.truth_roughness}")
    if len(args.camera) not in (1, len(args.target)):
        raise InputError("--camera", f"give one camera or one per target ({len(args.target)}), "
                                     f"got {len(args.camera)}")
    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(args.out, "the output folder is a file")
    return cfg


def _read_targets(paths: list[str]) -> np.ndarray:
    from ..fit.fitter import read_target_image

    images = [read_target_image(p) for p in paths]
    for p, im in zip(paths[1:], images[1:]):
        if im.shape != images[0].shape:
            raise InputError(p, f"size {im.shape[1]} x {im.shape[0]} differs from the first "
                                f"target's {images[0].shape[1]} x {images[0].shape[0]}")
    h, w = images[0].shape[:2]
    if min(h, w) < 8:
        raise InputError(paths[0], f"image of {w} x {h} pixels is too small (at least 8 x 8)")
    return np.stack(images).astype(np.float32)


def _plot(path: str, hist: dict, title: str) -> None:
    from ..io.atomic import atomic_path
    from ..report.figures import pyplot

    plt = pyplot()

    err_keys = [k for k in ("envmap_rmse_weighted", "envmap_rmse", "roughness_error") if k in hist]
    ncols = 2 if err_keys else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.6), dpi=120, squeeze=False)
    ax = axes[0, 0]
    ax.plot(np.arange(1, len(hist["loss"]) + 1), hist["loss"], lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (estimate)")
    ax.grid(alpha=0.3)
    if err_keys:
        ax = axes[0, 1]
        for k in err_keys:
            ax.plot(hist["time_s"], hist[k], label=k.replace("_", " "), lw=1.2)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("parameter error")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def run(args) -> int:
    cfg = _check_args(args)
    H, W = _parse_size(args.envmap_size)
    targets = _read_targets(args.target)
    V, h, w = targets.shape[:3]
    truth_E = None
    if args.truth_envmap:
        from ..io import read_envmap

        truth_E = read_envmap(args.truth_envmap)
        if truth_E.shape[:2] != (H, W):
            raise InputError(args.truth_envmap, f"size {truth_E.shape[1]} x {truth_E.shape[0]} "
                                                f"differs from --envmap-size {H}x{W}")
    hm = load_surface(args)
    variant = select_device(args)

    from dataclasses import asdict

    from ..engines.subset import SubsetRenderer
    from ..io import write_exr, write_png
    from ..io.atomic import atomic_path
    from ..fit.fitter import Truth, fit_to_images, parameter_error, sensitivity_weights
    from ..optimize.init import initial_envmap
    from ..report.figures import write_envmap_preview
    from ..scene import SceneSpec, build_scene

    channels = 1 if args.color == "gray" else 3
    if args.init.partition(":")[0] == "specular":
        raise InputError("--init", "fit supports constant[:V], random or an image file")
    E0 = initial_envmap(args.init, (H, W), channels, seed=args.seed)
    cams = [parse_camera(c, args.fov) for c in args.camera]
    if len(cams) == 1:
        cams = cams * V
    try:
        scenes = [build_scene(hm, SceneSpec(material=args.material, roughness=args.roughness,
                                            exaggeration=args.exaggeration, camera=c, width=w,
                                            height=h, max_depth=args.max_depth), envmap=E0)
                  for c in cams]
    except ValueError as e:
        raise InputError("--material", str(e)) from None
    renderer = SubsetRenderer(scenes, spp=cfg.spp, params=cfg.params)
    truth = None
    if truth_E is not None or args.truth_roughness is not None:
        weights = None
        if truth_E is not None and "envmap" in cfg.params:
            gray = truth_E.mean(axis=2, keepdims=True) if channels == 1 else truth_E
            weights = sensitivity_weights(renderer, gray, args.truth_roughness or args.roughness,
                                          spp=cfg.spp, seed=args.seed + 17)
        truth = Truth(envmap=truth_E, roughness=args.truth_roughness, weights=weights)

    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    result = fit_to_images(renderer, targets, E0, args.roughness, cfg, truth=truth,
                           progress=not args.quiet)
    fitted = renderer.render_views(result.envmap, result.roughness, seed=args.seed + 99991,
                                   spp=args.final_spp)
    write_exr(os.path.join(out, "envmap.exr"), result.envmap)
    write_envmap_preview(os.path.join(out, "envmap.png"), np.clip(result.envmap, 0, None))
    write_png(os.path.join(out, "fitted.png"), np.concatenate(list(fitted), axis=1))
    _plot(os.path.join(out, "loss.png"), result.history,
          f"fit: {cfg.sampling} sampling, budget {cfg.budget:g}, {cfg.loss}")
    rmse = float(np.sqrt(np.mean((fitted.astype(np.float64) - targets) ** 2)))
    summary = {
        "roughness": result.roughness,
        "time_s": result.time_s,
        "pixels_per_iteration": result.pixels_per_iteration,
        "pixels_total": int(V * h * w),
        "image_rmse": rmse,
        "final_loss": result.history["loss"][-1],
        "errors": parameter_error(result.envmap, result.roughness, truth),
    }
    cmd = {k: v for k, v in vars(args).items() if not k.startswith("_") and k != "command"}
    doc = {"command": "fit", "args": cmd, "config": asdict(cfg), "variant": variant,
           "views": [asdict(c) for c in cams], "image_size": [w, h], "envmap_size": [H, W],
           "result": summary, "history": result.history,
           "wall_s": time.perf_counter() - t0}
    with atomic_path(os.path.join(out, "run.json"), suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(doc, f, indent=2)
    line = (f"fitted {','.join(cfg.params)} in {result.time_s:.1f} s ({cfg.sampling}, "
            f"{result.pixels_per_iteration} of {V * h * w} pixels per iteration); "
            f"roughness {result.roughness:.4g}, image RMSE {rmse:.4g}")
    for k, v in summary["errors"].items():
        line += f", {k.replace('_', ' ')} {v:.4g}"
    print(line)
    print(f"wrote {out}/envmap.exr, envmap.png, fitted.png, loss.png, run.json")
    return 0

"""scratchlight fit: recover the light (and roughness) of a height-map scene from images."""
from __future__ import annotations

import dataclasses

from ..errors import InputError
from .common import add_config_option, add_heightmap_options, flag_for_field, parse_floats

NAME = "fit"
HELP = ("recover the environment light and the roughness of a height-map scene from one or "
        "more target images (inverse rendering, optionally on an adaptive subset of pixels)")


def add_arguments(p):
    add_heightmap_options(p, optional=True)
    add_config_option(p)
    p.add_argument("--target", nargs="+", metavar="IMG",
                   help="target image(s), one per camera: EXR/HDR linear or PNG/JPEG sRGB; "
                        "all of the same size, which sets the render resolution (required "
                        "without --config)")
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
    p.add_argument("--device", choices=("auto", "cpu", "cuda"),
                   help="cuda when a GPU is usable (auto, the default), cpu or cuda; with "
                        "--config the saved one unless given")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _config_fields(cls=None, prefix: str = "") -> set[str]:
    """Every dotted field name of ``FitRunConfig`` (``fit.budget``, ``surface.crop``, ...)."""
    from ..fit import FitRunConfig

    names = set()
    for f in dataclasses.fields(cls or FitRunConfig):
        names.add(prefix + f.name)
        if isinstance(f.default_factory, type) and dataclasses.is_dataclass(f.default_factory):
            names |= _config_fields(f.default_factory, f"{prefix}{f.name}.")
    return names


def _parse_size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--envmap-size", f"expected HxW, e.g. 25x50, got {text!r}") from None
    if h < 2 or w < 4:
        raise InputError("--envmap-size", f"must be at least 2 x 4, got {text!r}")
    return h, w


def config_from_args(args):
    """The ``FitRunConfig`` of the command line: read from ``--config`` (with ``--device``
    overriding the saved device), or built from the options (paths made absolute)."""
    from ..config import read_config
    from ..fit import FitConfig, FitRunConfig
    from ..surface import SurfaceConfig

    if args.config:
        cfg = read_config(args.config, FitRunConfig, command="fit")
        return dataclasses.replace(cfg, device=args.device) if args.device else cfg
    if not args.heightmap:
        raise InputError("heightmap", "give a height map file (or --config run.json)")
    if not args.target:
        raise InputError("--target", "give one target image per camera (or --config run.json)")
    fit = FitConfig(params=tuple(v.strip() for v in args.params.split(",") if v.strip()),
                    sampling=args.sampling, budget=args.budget, iterations=args.iterations,
                    lr=args.lr, lr_roughness=args.lr_roughness, loss=args.loss, spp=args.spp,
                    seed=args.seed, refresh=args.refresh, refresh_pairs=args.refresh_pairs,
                    refresh_spp=args.refresh_spp, cost_aware=args.cost_aware)
    crop = tuple(int(v) for v in parse_floats(args.crop, 4, "--crop")) if args.crop else None
    # --max-size 0 or below has always meant "keep the full grid"
    surface = SurfaceConfig(path=args.heightmap, max_size=max(args.max_size, 0),
                            level=not args.no_level, crop=crop)
    cfg = FitRunConfig(
        surface=surface, targets=tuple(args.target), cameras=tuple(args.camera), fov=args.fov,
        material=args.material, roughness=args.roughness, exaggeration=args.exaggeration,
        max_depth=args.max_depth, color=args.color, envmap_size=_parse_size(args.envmap_size),
        init=args.init, truth_envmap=args.truth_envmap, truth_roughness=args.truth_roughness,
        fit=fit, final_spp=args.final_spp, device=args.device or "auto")
    return cfg.absolute_paths()


def run(args) -> int:
    from ..fit import run_fit

    try:
        cfg = config_from_args(args)
        done = run_fit(cfg, args.out, progress=not args.quiet)
    except InputError as e:
        if e.path not in _config_fields():
            raise                               # a file (or an option) at fault
        if args.config:                         # a value of the saved config
            raise InputError(args.config, f"{e.path}: {e.problem}") from None
        # a value that came from an option: name the option, not the config field
        raise InputError(flag_for_field(e.path), e.problem) from None
    fit, res = done.config.fit, done.result
    line = (f"fitted {','.join(fit.params)} in {res.time_s:.1f} s ({fit.sampling}, "
            f"{res.pixels_per_iteration} of {done.summary['pixels_total']} pixels per "
            f"iteration); roughness {res.roughness:.4g}, image RMSE "
            f"{done.summary['image_rmse']:.4g}")
    for k, v in done.summary["errors"].items():
        line += f", {k.replace('_', ' ')} {v:.4g}"
    print(line)
    print(f"wrote {done.out_dir}/envmap.exr, envmap.png, fitted.png, loss.png, run.json")
    return 0

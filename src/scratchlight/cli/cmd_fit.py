"""scratchlight fit: recover the light (and roughness) of a height-map scene from images."""
from __future__ import annotations

import dataclasses

from ..errors import InputError
from .common import SURFACE_OPTIONS, add_config_option, add_heightmap_options, flag_for_field, replay
from .flags import add_options, config_from_args as _from_flags

NAME = "fit"
HELP = ("recover the environment light and the roughness of a height-map scene from one or "
        "more target images (inverse rendering, optionally on an adaptive subset of pixels)")


VIEW_OPTIONS = ("target", "camera", "fov")
FIT_OPTIONS = ("params", "sampling", "budget", "iterations", "lr", "lr_roughness", "loss", "spp",
               "refresh", "refresh_pairs", "refresh_spp", "cost_aware", "final_spp")
SCENE_OPTIONS = ("material", "roughness", "exaggeration", "max_depth", "color", "envmap_size",
                 "init")
TRUTH_OPTIONS = ("truth_envmap", "truth_roughness")
OPTIONS = ("heightmap", *SURFACE_OPTIONS, *VIEW_OPTIONS, *FIT_OPTIONS, *SCENE_OPTIONS,
           *TRUTH_OPTIONS, "seed", "device")


def add_arguments(p):
    from ..fit import FitRunConfig

    add_heightmap_options(p, FitRunConfig)
    add_config_option(p)
    add_options(p, FitRunConfig, VIEW_OPTIONS)
    p.add_argument("--out", required=True, help="results folder")
    add_options(p, FitRunConfig, FIT_OPTIONS, "fitting")
    add_options(p, FitRunConfig, SCENE_OPTIONS, "scene and initial state")
    add_options(p, FitRunConfig, TRUTH_OPTIONS, "known truth (synthetic targets)")
    add_options(p, FitRunConfig, ["seed", "device"])
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


def config_from_args(args):
    """The ``FitRunConfig`` of the command line: read from ``--config`` (with ``--device``
    overriding the saved device), or built from the options (paths made absolute)."""
    from ..fit import FitRunConfig

    if args.config:
        return replay(args, FitRunConfig, NAME)
    if not args.heightmap:
        raise InputError("heightmap", "give a height map file (or --config run.json)")
    if not args.target:
        raise InputError("--target", "give one target image per camera (or --config run.json)")
    return _from_flags(args, FitRunConfig, OPTIONS).absolute_paths()


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

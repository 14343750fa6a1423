"""Options shared by several commands, and their translation into library objects."""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os

from ..errors import InputError
from ..options import option_table
from .flags import add_options

__all__ = [
    "flag_for_field", "add_config_option", "add_heightmap_options", "add_scene_options",
    "add_run_options", "replay", "command_configs", "parse_resolution", "parse_floats",
    "check_output_path", "SURFACE_OPTIONS", "SCENE_OPTIONS", "RUN_OPTIONS",
]


def parse_floats(text: str, n: int, option: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(option, f"expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise InputError(option, f"expected {n} finite comma-separated numbers, got {text!r}")
    return vals


def parse_resolution(text: str) -> tuple[int, int]:
    """'512' -> (512, 512); '640x480' -> (width 640, height 480)."""
    try:
        parts = [int(v) for v in str(text).lower().split("x")]
    except ValueError:
        raise InputError("--resolution", f"expected N or WxH, got {text!r}") from None
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) < 8:
        raise InputError("--resolution", f"expected N or WxH with sides >= 8, got {text!r}")
    if max(parts) > 8192:
        raise InputError("--resolution", f"sides must be at most 8192 pixels, got {text!r} "
                                         f"(about {parts[0] * parts[1] * 256 / 2**30:.0f} GiB "
                                         "per render pass)")
    return parts[0], parts[1]


SURFACE_OPTIONS = ("max_size", "no_level", "crop")
"""The surface-preparation flags (``SurfaceConfig``)."""
SCENE_OPTIONS = ("resolution", "spp", "camera", "elevation", "azimuth", "fov", "camera_origin",
                 "camera_target", "material", "roughness", "exaggeration", "max_depth")
"""The scene flags (``SceneSpec``, its camera, and the command's samples per pixel)."""
RUN_OPTIONS = ("seed", "device")


def command_configs() -> tuple[type, ...]:
    """The config classes of the commands whose flags are derived from declarations
    (optimize, render, relight, evaluate, lamps, fit, batch, studio)."""
    from ..batch import BatchSettings
    from ..fit import FitRunConfig
    from ..lamps.config import LampsConfig
    from ..optimize.config import OptimizeConfig
    from ..renders import EvaluateConfig, RelightConfig, RenderConfig
    from ..studio.config import StudioConfig

    return (OptimizeConfig, RenderConfig, RelightConfig, EvaluateConfig, LampsConfig,
            FitRunConfig, BatchSettings, StudioConfig)


@functools.lru_cache(maxsize=None)
def _field_flags() -> dict[str, str]:
    flags: dict[str, str] = {}
    for cls in command_configs():
        for e in option_table(cls).values():
            if not e.opt.cli or (e.opt.negate and not e.negated):
                continue
            flags.setdefault(e.field, e.flag)
            if e.opt.pair:
                flags.setdefault(e.field.rpartition(".")[0] + "." + e.opt.pair
                                 if "." in e.field else e.opt.pair, e.flag)
    return flags


def flag_for_field(field: str | None) -> str | None:
    """The command-line flag of a config field (``light.lam`` -> ``--lam``), derived from
    the declarations; any other error path (a file name, an option) is returned as it is."""
    if not field:
        return field
    return _field_flags().get(field, field)


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="repeat a run from the config it saved (run.json, OUT.run.json, the "
                        "metrics .json); every other option but --out and --device is then "
                        "ignored")


def add_heightmap_options(p: argparse.ArgumentParser, cls: type) -> None:
    """The positional height map and the surface-preparation flags of ``cls``."""
    add_options(p, cls, ["heightmap"])
    add_options(p, cls, SURFACE_OPTIONS, "surface preparation")


def add_scene_options(p: argparse.ArgumentParser, cls: type) -> None:
    add_options(p, cls, SCENE_OPTIONS, "scene")


def add_run_options(p: argparse.ArgumentParser, cls: type) -> None:
    add_options(p, cls, RUN_OPTIONS)


def replay(args, cls: type, command: str):
    """The config saved in ``--config FILE`` (``--device`` overrides the saved one)."""
    from ..config import read_config
    from ..options import resolve_paths

    # relative file paths name files beside the config, wherever its folder was moved
    cfg = resolve_paths(read_config(args.config, cls, command=command),
                        os.path.dirname(os.path.abspath(args.config)))
    if getattr(args, "device", None):
        cfg = dataclasses.replace(cfg, device=args.device)
    return cfg


def check_output_path(path: str, option: str, extensions: tuple[str, ...]) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise InputError(option, f"{path}: expected a {' or '.join(extensions)} file")
    d = os.path.dirname(os.path.abspath(path))
    if os.path.exists(d) and not os.path.isdir(d):
        raise InputError(path, "the output folder is not a directory")
    return path

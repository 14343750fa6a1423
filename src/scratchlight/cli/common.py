"""Options shared by several commands, and their translation into library objects."""
from __future__ import annotations

import argparse
import os

import numpy as np

from ..errors import InputError

__all__ = [
    "flag_for_field", "surface_config_from_args", "add_config_option",
    "add_heightmap_options", "add_scene_options", "add_run_options",
    "scene_spec_from_args", "parse_resolution", "parse_crop", "parse_exaggeration", "parse_floats",
    "check_output_path", "light_source_from_args",
]


def parse_floats(text: str, n: int, option: str) -> tuple[float, ...]:
    try:
        vals = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise InputError(option, f"expected {n} comma-separated numbers, got {text!r}") from None
    if len(vals) != n or not all(np.isfinite(vals)):
        raise InputError(option, f"expected {n} finite comma-separated numbers, got {text!r}")
    return vals


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """'X0,Y0,NX,NY' -> four whole numbers (cells); fractions are refused, not truncated."""
    vals = parse_floats(text, 4, "--crop")
    if any(v != int(v) for v in vals):
        raise InputError("--crop", f"expected 4 whole numbers X0,Y0,NX,NY (cells), got {text!r}")
    x0, y0, nx, ny = (int(v) for v in vals)
    if x0 < 0 or y0 < 0 or nx < 3 or ny < 3:
        raise InputError("--crop", f"needs X0, Y0 >= 0 and NX, NY >= 3, got {text!r}")
    return x0, y0, nx, ny


def parse_exaggeration(text) -> float | str:
    """'auto' or a positive number."""
    if str(text).lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not np.isfinite(value) or value <= 0:
        raise InputError("--exaggeration", f"must be a positive number or 'auto', got {text!r}")
    return value


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


# Config fields whose flag is not "--" + the last name with dashes.
_SPECIAL_FLAGS = {
    "surface.path": "heightmap", "surface.level": "--no-level", "scene.width": "--resolution",
    "scene.height": "--resolution", "scene.camera.preset": "--camera",
    "scene.camera.elevation_deg": "--elevation", "scene.camera.azimuth_deg": "--azimuth",
    "scene.camera.fov_deg": "--fov", "scene.camera.origin": "--camera-origin",
    "scene.camera.target": "--camera-target", "light.envmap": "--envmap",
    "light.constant": "--constant", "use_cache": "--no-cache",
    "viewing_distance_m": "--viewing-distance", "pixel_pitch_m": "--pixel-pitch",
    "optimizer.memory_budget_gib": "--memory-budget", "memory_budget_gib": "--memory-budget",
    "cameras": "--camera", "targets": "--target",
}


# Top-level fields of the command configs (the rest are nested: surface.*, scene.*, ...).
_TOP_FIELDS = ("seed", "device", "spp", "repeat", "seeds", "guard", "weber_threshold",
               "truth_from_file", "cache_dir", "final_spp", "window", "twin",
               # fit's run config keeps its scene and light options at the top
               "fov", "material", "roughness", "exaggeration", "max_depth", "color",
               "envmap_size", "init", "truth_envmap", "truth_roughness")
_SECTIONS = ("surface", "scene", "light", "optimizer", "fit", "lamps")


def flag_for_field(field: str | None) -> str | None:
    """The command-line flag of a config field (``light.lam`` -> ``--lam``); any other
    error path (a file name) is returned as it is."""
    if not field:
        return field
    if field in _SPECIAL_FLAGS:
        return _SPECIAL_FLAGS[field]
    parts = field.split(".")
    if field in _TOP_FIELDS or (len(parts) > 1 and parts[0] in _SECTIONS
                                and all(q.replace("_", "").isalnum() for q in parts)):
        return "--" + parts[-1].replace("_", "-")
    return field


def add_config_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="repeat a run from the config it saved (run.json, OUT.run.json, the "
                        "metrics .json); every other option but --out and --device is then "
                        "ignored")


def surface_config_from_args(args):
    """The SurfaceConfig of the positional height map and the preparation options."""
    from ..surface import SurfaceConfig

    if not getattr(args, "heightmap", None):
        raise InputError("heightmap", "give a height map file (or --config FILE)")
    crop = parse_crop(args.crop) if getattr(args, "crop", None) else None
    return SurfaceConfig(path=os.path.abspath(args.heightmap),
                         max_size=getattr(args, "max_size", 1024),
                         level=not getattr(args, "no_level", False), crop=crop)


def add_heightmap_options(p: argparse.ArgumentParser, optional: bool = False) -> None:
    if optional:
        p.add_argument("heightmap", nargs="?", help="height map file (.x3p .sur .tif .npy .npz "
                       ".csv .txt .asc); not needed with --config")
    else:
        p.add_argument("heightmap", help="height map file (.x3p .sur .tif .npy .npz .csv .txt .asc)")
    g = p.add_argument_group("surface preparation")
    g.add_argument("--max-size", type=int, default=1024,
                   help="resample so neither side of the grid exceeds this many points "
                        "(default 1024; 0 keeps the full grid)")
    g.add_argument("--no-level", action="store_true", help="do not subtract the best-fit plane")
    g.add_argument("--crop", metavar="X0,Y0,NX,NY", help="keep this window of the grid (cells)")


def add_scene_options(p: argparse.ArgumentParser, resolution: str = "512", spp: int = 64) -> None:
    from ..scene import CAMERA_PRESETS, MATERIALS

    g = p.add_argument_group("scene")
    g.add_argument("--resolution", default=resolution, help=f"image size N or WxH (default {resolution})")
    g.add_argument("--spp", type=int, default=spp, help=f"samples per pixel (default {spp})")
    g.add_argument("--camera", choices=CAMERA_PRESETS, default="oblique",
                   help="oblique (45 degrees, default), top (orthographic) or custom")
    g.add_argument("--elevation", type=float, default=45.0, help="oblique camera elevation, degrees")
    g.add_argument("--azimuth", type=float, default=0.0, help="oblique camera azimuth, degrees")
    g.add_argument("--fov", type=float, default=30.0, help="horizontal field of view, degrees")
    g.add_argument("--camera-origin", metavar="X,Y,Z",
                   help="custom camera position in scene units (the surface's longer side spans -1..1)")
    g.add_argument("--camera-target", metavar="X,Y,Z", default="0,0,0",
                   help="custom camera target in scene units (default 0,0,0)")
    g.add_argument("--material", choices=sorted(MATERIALS), default="aluminium",
                   help="metal preset (default aluminium)")
    g.add_argument("--roughness", type=float, default=0.02, help="GGX alpha, 0 = mirror (default 0.02)")
    g.add_argument("--exaggeration", default="auto",
                   help="height factor: a number (1 = true proportions) or auto (default: "
                        "1 unless the 99th-percentile slope is under 0.15 rad, then lifted to it)")
    g.add_argument("--max-depth", type=int, default=3,
                   help="path depth: 2 = direct only, 3 = one interreflection (default 3)")


def add_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="cuda when a GPU is usable (auto), else cpu")


def scene_spec_from_args(args):
    from ..scene import CameraSpec, SceneSpec

    width, height = parse_resolution(args.resolution)
    if args.spp < 1:
        raise InputError("--spp", f"must be at least 1, got {args.spp}")
    if not 0.0 <= args.roughness <= 1.0:
        raise InputError("--roughness", f"must be in [0, 1], got {args.roughness}")
    exaggeration = parse_exaggeration(args.exaggeration)
    if args.max_depth < 2:
        raise InputError("--max-depth", f"must be at least 2, got {args.max_depth}")
    if not 1.0 <= args.fov < 170.0:
        raise InputError("--fov", f"must be in [1, 170) degrees, got {args.fov}")
    origin = None
    if args.camera == "custom":
        if not args.camera_origin:
            raise InputError("--camera-origin", "a custom camera needs --camera-origin X,Y,Z")
        origin = parse_floats(args.camera_origin, 3, "--camera-origin")
    elif args.camera_origin:
        raise InputError("--camera-origin", "only used with --camera custom")
    target = parse_floats(args.camera_target, 3, "--camera-target")
    cam = CameraSpec(preset=args.camera, elevation_deg=args.elevation, azimuth_deg=args.azimuth,
                     fov_deg=args.fov, origin=origin, target=target)
    return SceneSpec(material=args.material, roughness=args.roughness,
                     exaggeration=exaggeration, camera=cam, width=width, height=height,
                     max_depth=args.max_depth)


def light_source_from_args(args):
    """The LightSource of ``--envmap FILE`` or ``--constant V``."""
    from ..renders import LightSource

    if getattr(args, "envmap", None):
        return LightSource(envmap=os.path.abspath(args.envmap))
    constant = getattr(args, "constant", None)
    if constant is None:
        raise InputError("--envmap", "give the light: --envmap FILE or --constant V (or --config FILE)")
    if not np.isfinite(constant) or constant < 0:
        raise InputError("--constant", f"must be a finite value >= 0, got {constant}")
    return LightSource(constant=float(constant))


def check_output_path(path: str, option: str, extensions: tuple[str, ...]) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in extensions:
        raise InputError(option, f"{path}: expected a {' or '.join(extensions)} file")
    d = os.path.dirname(os.path.abspath(path))
    if os.path.exists(d) and not os.path.isdir(d):
        raise InputError(path, "the output folder is not a directory")
    return path

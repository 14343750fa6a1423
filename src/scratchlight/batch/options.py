"""A row's flat options -> the config of its command, exactly as the command line builds it.

Options are named like the flags without dashes. Values may be typed (TOML) or text (CSV):
``resolution`` is ``N`` or ``WxH``, ``envmap_size`` ``HxW``, ``crop`` ``X0,Y0,NX,NY``,
``camera_origin``/``camera_target`` ``X,Y,Z``, ``exaggeration`` a number or ``auto``; lists
work too. File options (``heightmap``, ``envmap``, ``truth``, ``cache_dir``, a file ``init``
or ``mask``) are relative to the plan file. ``no_level`` and ``no_cache`` are accepted for
``level = false`` and ``use_cache = false``. A wrong name or value raises ``InputError``
naming the option.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import InputError

__all__ = ["COMMANDS", "config_for", "option_for_field", "coerce_option", "META_OPTIONS",
           "command_options"]

COMMANDS = ("optimize", "render", "relight", "evaluate")
META_OPTIONS = ("command", "name")

_INT = {"max_size", "width", "height", "max_depth", "iterations", "spp", "final_spp", "seed",
        "scratch_kernel", "scratch_patch", "seeds", "guard", "repeat"}
_FLOAT = {"roughness", "elevation", "azimuth", "fov", "lr", "lam", "scratch_threshold",
          "weber_threshold", "constant"}
_BOOL = {"level", "use_cache", "truth_from_file"}
_PATHS = {"heightmap", "envmap", "truth", "cache_dir"}
_NEGATED = {"no_level": "level", "no_cache": "use_cache"}


def _numbers(name: str, value, n: int, kind, sep: str = ",") -> tuple:
    parts = value if isinstance(value, (list, tuple)) else str(value).lower().split(sep)
    try:
        vals = tuple(kind(float(v)) if kind is int and float(v) == int(float(v)) else kind(v)
                     for v in parts)
    except (TypeError, ValueError):
        vals = ()
    if len(vals) != n:
        what = {2: "2 numbers", 3: "3 numbers X,Y,Z", 4: "4 integers X0,Y0,NX,NY"}[n]
        raise InputError(name, f"expected {what}, got {value!r}")
    return vals


def coerce_option(name: str, value: Any, base_dir: str = ".") -> tuple[str, Any]:
    """``(option, typed value)`` for the plan's ``name = value``; file paths absolute."""
    if name in _NEGATED:
        name, value = _NEGATED[name], not _to_bool(name, value)
    if name == "resolution":
        if isinstance(value, int) and not isinstance(value, bool):
            return name, (value, value)
        w, h = _numbers(name, value, 2, int, "x") if "x" in str(value).lower() or \
            isinstance(value, (list, tuple)) else (_to_int(name, value),) * 2
        return name, (w, h)
    if name == "envmap_size":
        return name, _numbers(name, value, 2, int, "x")
    if name == "crop":
        return name, _numbers(name, value, 4, int)
    if name in ("camera_origin", "camera_target"):
        return name, _numbers(name, value, 3, float)
    if name == "exaggeration":
        return name, "auto" if str(value).lower() == "auto" else _to_float(name, value)
    if name in _INT:
        return name, _to_int(name, value)
    if name in _FLOAT:
        return name, _to_float(name, value)
    if name in _BOOL:
        return name, _to_bool(name, value)
    if isinstance(value, (list, tuple, dict)):
        raise InputError(name, f"expected one value, got {value!r}")
    value = str(value)
    if name in _PATHS:
        return name, os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))
    if name == "init" and value.split(":")[0] not in _init_kinds():
        return name, os.path.normpath(os.path.join(base_dir, value))
    if name == "mask" and value not in ("object", "scratch"):
        return name, os.path.normpath(os.path.join(base_dir, value))
    return name, value


def _init_kinds():
    from ..optimize.init import INIT_KINDS

    return INIT_KINDS


def _to_int(name, value) -> int:
    if isinstance(value, bool):
        raise InputError(name, f"expected an integer, got {value!r}")
    try:
        f = float(value)
        if f == int(f):
            return int(f)
    except (TypeError, ValueError, OverflowError):
        pass
    raise InputError(name, f"expected an integer, got {value!r}")


def _to_float(name, value) -> float:
    if isinstance(value, bool):
        raise InputError(name, f"expected a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InputError(name, f"expected a number, got {value!r}") from None


def _to_bool(name, value) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in ("true", "1", "yes"):
        return True
    if str(value).strip().lower() in ("false", "0", "no"):
        return False
    raise InputError(name, f"expected true or false, got {value!r}")


def command_options(command: str) -> set[str]:
    """The option names ``command`` takes (empty for an unknown command)."""
    import dataclasses

    from ..optimize.config import OPTION_FIELDS
    from ..renders import RENDER_OPTION_FIELDS, EvaluateConfig, RelightConfig, RenderConfig

    if command == "optimize":
        return set(OPTION_FIELDS) | {"resolution", "no_level"}
    cls = {"render": RenderConfig, "relight": RelightConfig, "evaluate": EvaluateConfig}.get(command)
    if cls is None:
        return set()
    own = {f.name for f in dataclasses.fields(cls)} - {"surface", "scene", "light"}
    return set(RENDER_OPTION_FIELDS) | own | {"resolution", "no_level"} | \
        ({"no_cache"} if command == "relight" else set())


def config_for(command: str, options: dict[str, Any], base_dir: str = "."):
    """The validated config of ``command`` for the row's flat ``options`` (meta options
    ``command`` and ``name`` are ignored)."""
    from ..optimize.config import OptimizeConfig
    from ..renders import EvaluateConfig, RelightConfig, RenderConfig

    if command not in COMMANDS:
        raise InputError("command", f"must be one of {', '.join(COMMANDS)}, got {command!r}")
    typed = dict(coerce_option(k, v, base_dir) for k, v in options.items()
                 if k not in META_OPTIONS)
    if "heightmap" not in typed:
        raise InputError("heightmap", "no height-map file given")
    cls = {"optimize": OptimizeConfig, "render": RenderConfig, "relight": RelightConfig,
           "evaluate": EvaluateConfig}[command]
    try:
        cfg = cls.from_options(**typed)
    except InputError as e:
        if e.problem == "unknown option":
            raise InputError(e.path, f"not an option of {command}") from None
        raise
    if command == "optimize":
        cfg.validate()
        return cfg
    cfg.validate()
    cfg.surface.validate()
    cfg.scene.validate()
    if cfg.device not in ("auto", "cpu", "cuda"):
        raise InputError("device", f"must be auto, cpu or cuda, got {cfg.device!r}")
    if cfg.light.envmap is None and cfg.light.constant is None:
        raise InputError("envmap", f"{command} needs the light: envmap = FILE or constant = V")
    if command == "relight" and cfg.light.envmap is None:
        raise InputError("envmap", "relight needs an environment-map file")
    return cfg


def option_for_field(field: str | None) -> str | None:
    """The option of a config field named in an error (``light.lam`` -> ``lam``,
    ``scene.width`` -> ``resolution``); anything else (a file name) unchanged."""
    from ..optimize.config import OPTION_FIELDS
    from ..renders import RENDER_OPTION_FIELDS

    if not field:
        return field
    if field in ("scene.width", "scene.height"):
        return "resolution"
    inverse = {v: k for k, v in {**OPTION_FIELDS, **RENDER_OPTION_FIELDS}.items()}
    return inverse.get(field, field)

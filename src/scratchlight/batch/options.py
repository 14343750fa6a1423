"""A row's flat options -> the config of its command, exactly as the command line builds it.

Options are named like the flags without dashes; names, types, paths and bounds come from
the config fields' declarations (``scratchlight.options``), the same that make the flags.
Values may be typed (TOML) or text (CSV): ``resolution`` is ``N`` or ``WxH``,
``envmap_size`` ``HxW``, ``crop`` ``X0,Y0,NX,NY``, ``camera_origin``/``camera_target``
``X,Y,Z``, ``exaggeration`` a number or ``auto``; lists work too. File options
(``heightmap``, ``envmap``, ``truth``, ``cache_dir``, a file ``init`` or ``mask``) are
relative to the plan file. ``no_level`` and ``no_cache`` are accepted for ``level = false``
and ``use_cache = false``. A wrong name or value raises ``InputError`` naming the option.
"""
from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..options import closest, config_from_options, option_table, unknown_name

__all__ = ["COMMANDS", "config_for", "option_for_field", "META_OPTIONS", "command_options",
           "plan_options", "check_option_names"]

COMMANDS = ("optimize", "render", "relight", "evaluate", "pod")
META_OPTIONS = ("command", "name")


def _config_class(command: str) -> type | None:
    from ..optimize.config import OptimizeConfig
    from ..pod import PodConfig
    from ..renders import EvaluateConfig, RelightConfig, RenderConfig

    return {"optimize": OptimizeConfig, "render": RenderConfig, "relight": RelightConfig,
            "evaluate": EvaluateConfig, "pod": PodConfig}.get(command)


def command_options(command: str) -> set[str]:
    """The option names ``command`` takes (empty for an unknown command)."""
    cls = _config_class(command)
    return set(option_table(cls)) if cls is not None else set()


def plan_options() -> set[str]:
    """Every name a plan's row may set: the options of any batch command and the meta
    options ``command`` and ``name``."""
    return set().union(*(command_options(c) for c in COMMANDS)) | set(META_OPTIONS)


def check_option_names(names, where: str = "") -> None:
    """Raise InputError naming the first name no batch command takes, with the closest
    valid one (``defaults.lamda: unknown option; did you mean 'lam'?``); the height-map
    generators' names (``synth.feed``, ``mill.tool``, ``gcode.NAME``) are checked by
    ``batch.surfaces``."""
    from .surfaces import check_generator_name, generator_options, is_generator_option

    valid = plan_options()
    for name in names:
        if is_generator_option(name):
            try:
                check_generator_name(name)
            except InputError as e:
                raise InputError(f"{where}{name}", e.problem) from None
        elif name not in valid:
            e = unknown_name(name, valid | generator_options())
            raise InputError(f"{where}{name}", e.problem)


def config_for(command: str, options: dict[str, Any], base_dir: str = "."):
    """The validated config of ``command`` for the row's flat ``options`` (meta options
    ``command`` and ``name`` are ignored)."""
    if command not in COMMANDS:
        raise InputError("command", f"must be one of {', '.join(COMMANDS)}, got {command!r}")
    from .surfaces import is_generator_option

    # the generators' options made the height map (batch.surfaces): not the command's
    opts = {k: v for k, v in options.items()
            if k not in META_OPTIONS and not is_generator_option(k)}
    takes = command_options(command)
    for name in opts:
        if name not in takes:  # a misspelling gets the closest name; another command's not
            near = closest(name, takes) if name not in plan_options() else None
            raise InputError(name, f"not an option of {command}"
                                   + (f"; did you mean {near!r}?" if near else ""))
    if "heightmap" not in opts and command != "pod":  # pod plants on a synthetic kind too
        raise InputError("heightmap", "no height-map file given")
    cfg = config_from_options(_config_class(command), opts, base_dir)
    cfg.validate()
    if command in ("optimize", "pod"):
        return cfg
    cfg.surface.validate()
    cfg.scene.validate()
    if cfg.light.envmap is None and cfg.light.constant is None:
        raise InputError("envmap", f"{command} needs the light: envmap = FILE or constant = V")
    if command == "relight" and cfg.light.envmap is None:
        raise InputError("envmap", "relight needs an environment-map file")
    return cfg


def _field_options() -> dict[str, str]:
    out: dict[str, str] = {}
    for command in COMMANDS:
        for e in option_table(_config_class(command)).values():  # primary names first
            out.setdefault(e.field, e.name)
            if e.opt.pair:
                out.setdefault(e.field.rpartition(".")[0] + "." + e.opt.pair, e.name)
    return out


def option_for_field(field: str | None) -> str | None:
    """The option of a config field named in an error (``light.lam`` -> ``lam``,
    ``scene.width`` -> ``resolution``); anything else (a file name) unchanged."""
    if not field:
        return field
    return _field_options().get(field, field)

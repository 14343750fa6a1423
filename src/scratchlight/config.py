"""Nested dataclass configurations: to and from plain JSON-able dictionaries.

Every stage owns the config of its own choices (``surface.SurfaceConfig``,
``scene.SceneSpec``, ``objectives.ObjectiveConfig``, ``optimize.OptimizerConfig``, ...);
a command's config nests them. ``config_to_dict`` turns one into a dictionary that is saved
as ``run.json`` beside the results, and ``config_from_dict`` rebuilds it, so a run can be
repeated from its folder. A field that is wrong is named by its dotted path
(``scene.camera.fov_deg``); only the command line translates a path into its ``--flag``.
"""
from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import types
import typing
from typing import Any

from .errors import InputError

__all__ = ["config_to_dict", "config_from_dict", "read_config", "replace_field", "get_field",
           "closest"]


def closest(name: str, valid) -> str | None:
    """The valid name closest to a misspelt ``name`` (None when nothing is close)."""
    found = difflib.get_close_matches(str(name), sorted(set(valid)), n=1, cutoff=0.6)
    return found[0] if found else None


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A nested dataclass as nested dictionaries of JSON types (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


@functools.lru_cache(maxsize=None)
def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _dataclass_in(tp) -> type | None:
    """The dataclass a field annotation names (also inside ``X | None``), else None."""
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg):
                return arg
    return None


def _is_tuple(tp) -> bool:
    if typing.get_origin(tp) is tuple:
        return True
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return any(_is_tuple(a) for a in typing.get_args(tp))
    return False


def _convert(value, tp, where: str):
    sub = _dataclass_in(tp)
    if sub is not None and isinstance(value, dict):
        return config_from_dict(sub, value, where)
    if isinstance(value, list):
        inner = [_convert(v, Any, f"{where}[{k}]") for k, v in enumerate(value)]
        return tuple(inner) if _is_tuple(tp) else inner
    return value


def config_from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Rebuild a (nested) config dataclass ``cls`` from ``data``.

    Unknown fields raise InputError naming their dotted path; missing fields keep their
    defaults; JSON lists become tuples where the field is a tuple.
    """
    if not isinstance(data, dict):
        raise InputError(where or cls.__name__, f"expected a JSON object, got {type(data).__name__}")
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        path = ", ".join(f"{where}.{k}" if where else k for k in unknown)
        near = closest(unknown[0], names)
        raise InputError(path, "unknown config field" + (f"; did you mean {near!r}?" if near else ""))
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}" if where else k) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise InputError(where or cls.__name__, str(e)) from None


def read_config(path: str | os.PathLike, cls: type, command: str | None = None) -> Any:
    """The config saved under ``"config"`` in the JSON file ``path`` (a ``run.json``).

    ``command``: when given, the file must have been written by that command (its
    ``"command"`` entry), so that ``render --config`` does not silently take an optimize run.
    """
    path = os.fspath(path)
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read config: {e}") from None
    if not isinstance(doc, dict):
        raise InputError(path, "not a scratchlight config (expected a JSON object)")
    saved = doc.get("command")
    if command is not None and saved is not None and saved != command:
        raise InputError(path, f"is the config of 'scratchlight {saved}', not of '{command}'")
    data = doc.get("config", doc)
    try:
        return config_from_dict(cls, data)
    except InputError as e:
        raise InputError(path, f"{e.path}: {e.problem}") from None



def get_field(cfg: Any, field: str) -> Any:
    """The value of the dotted ``field`` (``"scene.camera.fov_deg"``) of a nested config."""
    value = cfg
    for name in field.split("."):
        if not dataclasses.is_dataclass(value) or not hasattr(value, name):
            raise InputError(field, "no such config field")
        value = getattr(value, name)
    return value


def replace_field(cfg: Any, field: str, value: Any) -> Any:
    """A copy of the nested config ``cfg`` with the dotted ``field`` set to ``value``.

    Works through frozen dataclasses (``SceneSpec``, ``CameraSpec``) by replacing each
    level; ``cfg`` itself is never modified.
    """
    head, _, rest = field.partition(".")
    names = {f.name for f in dataclasses.fields(cfg)} if dataclasses.is_dataclass(cfg) else set()
    if head not in names:
        raise InputError(field, "no such config field")
    if rest:
        value = replace_field(getattr(cfg, head), rest, value)
    return dataclasses.replace(cfg, **{head: value})

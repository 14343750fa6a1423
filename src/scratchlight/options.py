"""One declaration per option: the config field says its name, type, default, bounds and help.

A user-facing config field is declared with :func:`option` instead of a bare default::

    lam: float | None = option(None, "L2 weight (default 30 gray, 10 rgb)", lo=0)

Everything else is derived from these declarations:

- :func:`option_table` lists a command config's options by their flat name (the flag
  without dashes: ``lam``, ``resolution``, ``camera``) with the dotted field each sets;
  batch plans, ``from_options`` and error messages use it;
- :func:`coerce` turns a value given as text (a flag, a CSV cell) or typed (TOML, JSON) into
  the field's type; :func:`config_from_options` builds a config from flat options;
- :func:`check_declared` checks every declared choice and bound of a (nested) config;
- ``cli.flags`` adds the command-line flags, ``studio.runs`` its form fields.

An unknown name anywhere is :func:`unknown_name`: ``InputError(name, "unknown option; did
you mean 'lam'?")``.
"""
from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from typing import Any, Callable, Iterable

from .config import closest, get_field, replace_field
from .errors import InputError

__all__ = ["Option", "Entry", "option", "option_table", "coerce", "config_from_options",
           "set_option", "resolve_paths", "check_declared", "unknown_name", "closest",
           "show_default"]


@dataclasses.dataclass(frozen=True)
class Option:
    """How a config field is offered to users (see :func:`option`)."""

    help: str
    name: str | None = None
    flag: str | None = None
    choices: tuple | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    parse: Callable[[Any], Any] | None = None
    sep: str = ","
    metavar: str | None = None
    path: bool | Callable[[str], bool] = False
    negate: str | None = None
    pair: str | None = None
    flag_scale: float = 1.0
    many: bool = False
    cli: bool = True
    studio: tuple[Any, str] | None = None


def option(default: Any = dataclasses.MISSING, help: str = "", *,
           default_factory: Any = dataclasses.MISSING, **declared) -> Any:
    """A dataclass field declared as a user option.

    ``help``: one line for ``--help`` (the default is appended); ``name``: the option's flat
    name (batch key, studio field; default the field's); ``flag``: the command-line flag
    (default ``--`` + name with dashes; a name without dashes is a positional argument);
    ``choices``; ``lo``/``hi``: inclusive bounds (``lo_open``: lo excluded); ``parse``:
    text or typed value -> value; ``sep``: separator of a tuple's text form; ``path``: the
    value is a file (True, or a predicate on the text) made absolute; ``negate``: the name
    of a flag that sets the field False (``no_level``); ``pair``: the sibling field set
    to the second of a pair (``resolution`` sets width and height); ``flag_scale``: field =
    flag value x this (a flag in mm, a field in m); ``many``: one flag takes several
    values; ``cli``: False for a config-only field; ``studio``: ``(default, why)`` where
    the studio's default differs from the command's.
    """
    meta = {"option": Option(help=help, **declared)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class Entry:
    """One flat option of a command config: its name, the dotted field it sets, the
    declaration, the field's type and its default in that config."""

    name: str
    field: str
    opt: Option
    type: Any
    default: Any
    negated: bool = False

    @property
    def flag(self) -> str:
        if self.negated:
            return "--" + self.name.replace("_", "-")
        if self.opt.flag:
            return self.opt.flag
        return "--" + self.name.replace("_", "-")

    @property
    def positional(self) -> bool:
        return not self.flag.startswith("-")

    @property
    def is_bool(self) -> bool:
        return _base(self.type) is bool


def _base(tp) -> Any:
    """``X`` of ``X | None``; the annotation itself otherwise."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else tp
    return tp


def _sub_dataclass(tp) -> type | None:
    if dataclasses.is_dataclass(tp):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return next((a for a in typing.get_args(tp) if dataclasses.is_dataclass(a)), None)
    return None


_TABLES: dict[type, dict[str, Entry]] = {}


def option_table(cls: type) -> dict[str, Entry]:
    """The flat options of the (nested) config class ``cls``: ``{name: Entry}``, in
    declaration order. A field declared ``negate="no_level"`` gives two names (``level``
    and ``no_level``)."""
    if cls not in _TABLES:
        table: dict[str, Entry] = {}
        _walk(cls, cls(), "", table)
        _TABLES[cls] = table
    return _TABLES[cls]


def _walk(cls, instance, prefix: str, table: dict) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        value = getattr(instance, f.name)
        sub = _sub_dataclass(hints[f.name])
        if sub is not None and dataclasses.is_dataclass(value):
            _walk(sub, value, f"{prefix}{f.name}.", table)
            continue
        opt = f.metadata.get("option")
        if opt is None:
            continue
        name = opt.name or f.name
        entries = [Entry(name, prefix + f.name, opt, hints[f.name], value)]
        if opt.negate:
            entries.append(Entry(opt.negate, prefix + f.name, opt, hints[f.name], value, True))
        if opt.pair and name != f.name:  # the field alone too (width), config-only
            plain = dataclasses.replace(opt, name=None, pair=None, cli=False)
            entries.append(Entry(f.name, prefix + f.name, plain, hints[f.name], value))
        for e in entries:
            if e.name in table and table[e.name].field != e.field:
                raise TypeError(f"{cls.__name__}: option {e.name!r} declared twice "
                                f"({table[e.name].field}, {e.field})")
            table[e.name] = e


def unknown_name(name: str, valid: Iterable[str], what: str = "option",
                 shown: Callable[[str], str] = repr) -> InputError:
    """``InputError(name, "unknown option; did you mean 'lam'?")``."""
    near = closest(name, valid)
    hint = f"; did you mean {shown(near)}?" if near else ""
    return InputError(str(name), f"unknown {what}{hint}")


# ------------------------------------------------------------------------------ values
def _to_int(where, value) -> int:
    if not isinstance(value, bool):
        try:
            f = float(value)
            if f == int(f):
                return int(f)
        except (TypeError, ValueError, OverflowError):
            pass
    raise InputError(where, f"expected an integer, got {value!r}")


def _to_float(where, value) -> float:
    if not isinstance(value, bool):
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = None
        if v is not None:
            if not math.isfinite(v):
                raise InputError(where, f"must be a finite number, got {value}")
            return v
    raise InputError(where, f"expected a number, got {value!r}")


def _to_bool(where, value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise InputError(where, f"expected true or false, got {value!r}")


_CONVERT = {int: _to_int, float: _to_float, bool: _to_bool}


def _scalar(where, kind, value):
    if kind in _CONVERT:
        return _CONVERT[kind](where, value)
    if isinstance(value, (list, tuple, dict)):
        raise InputError(where, f"expected one value, got {value!r}")
    return str(value)


def _sequence(where, tp, value, sep: str) -> tuple:
    args = typing.get_args(tp)
    parts = list(value) if isinstance(value, (list, tuple)) else \
        [p.strip() for p in str(value).split(sep)]
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(_scalar(where, args[0], p) for p in parts if p != "")
    if len(parts) != len(args):
        kinds = "integers" if args and args[0] is int else "numbers"
        raise InputError(where, f"expected {len(args)} {kinds} separated by {sep!r}, "
                                f"got {value!r}")
    return tuple(_scalar(where, a, p) for a, p in zip(args, parts))


def coerce(e: Entry, value: Any, base_dir: str | None = None, from_flag: bool = False) -> Any:
    """The value of option ``e`` as its field's type. ``value`` may be text (a flag, a CSV
    cell) or typed (TOML, JSON); file paths are made absolute relative to ``base_dir``;
    ``from_flag`` applies the flag's unit (``flag_scale``). Raises InputError(field)."""
    o, where = e.opt, e.field
    if value is None:  # typed callers (Python, JSON) may keep an optional field unset
        if typing.get_origin(e.type) in (typing.Union, types.UnionType) and \
                type(None) in typing.get_args(e.type):
            return None
        raise InputError(where, "must be given a value, got None")
    if o.parse is not None:
        value = o.parse(value)
    elif o.pair:
        if isinstance(value, (list, tuple)) or o.sep in str(value).lower():
            value = _sequence(where, tuple[int, int], str(value).lower()
                              if isinstance(value, str) else value, o.sep)
        else:
            value = (_to_int(where, value),) * 2
    else:
        base = _base(e.type)
        if typing.get_origin(base) is tuple:
            value = _sequence(where, base, value, o.sep)
        else:
            value = _scalar(where, base, value)
    if e.negated:
        value = not value
    if from_flag and o.flag_scale != 1.0:  # bounds checked in the flag's unit, as typed
        k = o.flag_scale
        check_value(dataclasses.replace(o, lo=None if o.lo is None else o.lo / k,
                                        hi=None if o.hi is None else o.hi / k), where, value)
        value = value * k
        if _base(e.type) is int:
            value = int(round(value))
    if o.path and isinstance(value, str) and value and base_dir is not None and \
            (o.path is True or o.path(value)):
        value = os.path.normpath(os.path.join(base_dir, os.path.expanduser(value)))
    return value


def resolve_paths(cfg: Any, base_dir: str | os.PathLike) -> Any:
    """A copy of the (nested) config ``cfg`` whose relative file paths (the fields declared
    ``path``) are made absolute against ``base_dir``, the folder of the config file that
    named them: a results folder moved or unzipped elsewhere replays from where it lies.
    Absolute paths and values that are no path (``object``, ``constant:0.5``) stay."""
    def fix(o: Option, v):
        if isinstance(v, str) and v and not os.path.isabs(os.path.expanduser(v)) and \
                (o.path is True or o.path(v)):
            return os.path.normpath(os.path.join(os.fspath(base_dir), v))
        return v

    for e in {e.field: e for e in option_table(type(cfg)).values() if e.opt.path}.values():
        value = get_field(cfg, e.field)
        new = tuple(fix(e.opt, v) for v in value) if isinstance(value, (list, tuple)) \
            else fix(e.opt, value)
        if new != value:
            cfg = replace_field(cfg, e.field, new)
    return cfg


def set_option(cfg: Any, e: Entry, value: Any) -> Any:
    """A copy of ``cfg`` with option ``e`` set to its (typed) ``value``."""
    if e.opt.pair:
        first, second = value
        cfg = replace_field(cfg, e.field, first)
        return replace_field(cfg, e.field.rpartition(".")[0] + "." + e.opt.pair
                             if "." in e.field else e.opt.pair, second)
    return replace_field(cfg, e.field, value)


def config_from_options(cls_or_cfg: Any, options: dict[str, Any], base_dir: str | None = None,
                        from_flag: bool = False) -> Any:
    """A config with flat ``options`` set (on ``cls()`` or a copy of a config): each value
    coerced by its declaration; an unknown name raises :func:`unknown_name`."""
    cfg = cls_or_cfg() if isinstance(cls_or_cfg, type) else cls_or_cfg
    table = option_table(type(cfg))
    for name, value in options.items():
        if name not in table:
            raise unknown_name(name, table)
        e = table[name]
        cfg = set_option(cfg, e, coerce(e, value, base_dir, from_flag))
    return cfg


# ------------------------------------------------------------------------------ checks
def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def check_value(o: Option, where: str, value: Any) -> None:
    """Raise InputError(where) when ``value`` is outside the declared choices or bounds."""
    if value is None:
        return
    if o.choices is not None and value not in o.choices:
        raise InputError(where, f"must be one of {', '.join(map(str, o.choices))}, got {value!r}")
    if (o.lo is None and o.hi is None) or isinstance(value, (str, tuple, bool)):
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(where, f"must be a finite number, got {value}")
    low_ok = o.lo is None or (value > o.lo if o.lo_open else value >= o.lo)
    if low_ok and (o.hi is None or value <= o.hi):
        return
    if o.hi is not None:
        left = "(" if o.lo_open else "["
        raise InputError(where, f"must be in {left}{_fmt(o.lo)}, {_fmt(o.hi)}], got {value}")
    if o.lo_open:
        what = "a positive number" if o.lo == 0 else f"a number > {_fmt(o.lo)}"
        raise InputError(where, f"must be {what}, got {value}")
    if isinstance(value, int):
        raise InputError(where, f"must be at least {_fmt(o.lo)}, got {value}")
    raise InputError(where, f"must be a finite number >= {_fmt(o.lo)}, got {value}")


def check_declared(cfg: Any, prefix: str = "") -> None:
    """Check every declared choice and bound of the (nested) config ``cfg``; raise
    InputError naming the dotted field (``prefix`` + name) of the first bad value."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_declared(value, f"{prefix}{f.name}.")
        elif "option" in f.metadata:
            check_value(f.metadata["option"], prefix + f.name, value)


def show_default(e: Entry) -> str | None:
    """The default of option ``e`` as its flag would be written (None: no default shown)."""
    v = e.default
    if e.negated or v is None or (e.is_bool and v is False) or v == "" or v == ():
        return None
    if e.opt.many:
        return " ".join(map(str, v))
    if e.opt.pair and isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, (list, tuple)):
        return e.opt.sep.join(_fmt(x) for x in v)
    if e.opt.flag_scale != 1.0 and isinstance(v, (int, float)):
        return _fmt(round(v / e.opt.flag_scale, 12))
    return _fmt(v)

"""Command-line flags derived from the config fields' declarations (``scratchlight.options``).

A command names the options it offers (``add_options(p, OptimizeConfig, ["lam", "lr"])``);
the flag, help, default shown, choices and metavar come from the field's declaration, and
the default itself from the command's config (``cls()``), so it is written in one place.
Every derived flag's argparse default is None ("not given"): ``config_from_args`` sets only
the given ones on ``cls()`` and validates, and ``--config`` replays know what was given.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Iterable

from ..options import closest, config_from_options, option_table, show_default

__all__ = ["add_options", "given_options", "config_from_args", "OneLineParser"]


def _help(e) -> str:
    text = e.opt.help
    shown = show_default(e)
    if shown is not None and "default" not in text:
        text += f" (default {shown})"
    return text.replace("%", "%%")


def add_options(p, cls: type, names: Iterable[str], title: str | None = None,
                exclusive: bool = False, rename: dict[str, str] | None = None):
    """Add the flags of options ``names`` of config class ``cls`` to parser ``p`` (in a
    group ``title``, or a mutually exclusive group; ``rename``: a command's own flag for an
    option, e.g. scratchmap's ``--kernel`` for ``scratch_kernel``); returns the group."""
    table = option_table(cls)
    group = p.add_mutually_exclusive_group() if exclusive else \
        p.add_argument_group(title) if title else p
    for name in names:
        e = table[name]
        flag = (rename or {}).get(name, e.flag)
        kw: dict[str, Any] = {"help": _help(e), "default": None}
        if e.positional:
            group.add_argument(flag, nargs="?", **kw)
            continue
        if e.is_bool:
            kw["action"] = "store_true"
        else:
            kw["metavar"] = e.opt.metavar or flag[2:].upper().replace("-", "_")
            if e.opt.choices is not None:
                kw["choices"], kw["metavar"] = e.opt.choices, e.opt.metavar
            if e.opt.many:  # a repeated flag adds its values (``--light a --light b``)
                kw["nargs"], kw["action"] = "+", "extend"
        group.add_argument(flag, dest=e.name, **kw)
    return group


def given_options(args, cls: type, names: Iterable[str]) -> dict[str, Any]:
    """The options among ``names`` given on the command line, as ``{name: text}``."""
    table = option_table(cls)
    out = {}
    for name in names:
        value = getattr(args, table[name].name, None)
        if value is not None and value is not False:
            out[name] = value
    return out


def config_from_args(args, cls: type, names: Iterable[str]):
    """``cls()`` with the given options of ``names`` set (paths absolute from the current
    folder, flag units converted), validated."""
    cfg = config_from_options(cls, given_options(args, cls, names), base_dir=os.getcwd(),
                              from_flag=True)
    cfg.validate()
    return cfg


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, exit code 2, no usage dump; an
    unknown flag names the closest valid one."""

    def error(self, message: str):
        print(f"scratchlight: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    def unknown_flags(self, extras: list[str]):
        """Exit 2 with one line for the first unknown argument of this (sub-)parser."""
        flags = [s for a in self._actions for s in a.option_strings]
        first = next((x for x in extras if x.startswith("-")), extras[0])
        name = first.split("=", 1)[0]
        if not name.startswith("-"):
            self.error(f"unrecognized argument {name!r}")
        near = closest(name, flags)
        self.error(f"unrecognized option {name}" + (f" (did you mean {near}?)" if near else ""))

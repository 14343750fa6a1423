"""The rows of a batch: folder names, configs and the keys that decide whether a row is done.

A row's *key* hashes its command, its full config (as saved in its ``run.json``) and the
contents of its input files (height map, light, mask, truth), so editing the plan, or
replacing a file under the same name, reruns exactly the rows it affects.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from typing import Any

from ..config import config_to_dict
from ..errors import InputError
from .options import META_OPTIONS, command_options, config_for, option_for_field
from .surfaces import is_generator_option

__all__ = ["Row", "make_rows", "row_names", "file_digest", "CONFIG_FILES", "error_line"]

# The file in a row's folder that holds the command's config (as the command writes it).
CONFIG_FILES = {"optimize": "run.json", "render": "render.run.json",
                "relight": "relight.run.json", "evaluate": "metrics.json", "pod": "run.json"}


@dataclasses.dataclass
class Row:
    """One run of a batch.

    Attributes:
        name: its results folder (``DIR/<name>``).
        command: optimize, render, relight or evaluate.
        options: the flat options as the plan gave them (for the summary and the page).
        config: the command's config as a dictionary (None when the options are bad).
        error: the one-line problem of bad options (None when the config is good).
        key: hash of command, config and input-file contents ('' when ``error``).
    """

    name: str
    command: str
    options: dict[str, Any]
    config: dict[str, Any] | None = None
    error: str | None = None
    key: str = ""

    @property
    def device(self) -> str:
        return (self.config or {}).get("device", "auto")


def error_line(e: BaseException) -> str:
    """A one-line description of an exception; an InputError names the option, not the
    config field (``lam: must be >= 0``)."""
    if isinstance(e, InputError):
        where = option_for_field(e.path)
        text = f"{where}: {e.problem}" if where else e.problem
    else:
        text = f"{type(e).__name__}: {e}"
    line = " ".join(str(text).split())
    return line[:500]


_DIGESTS: dict[tuple, str | None] = {}


def file_digest(path: str | None) -> str | None:
    """SHA-256 (16 hex digits) of a file's bytes, or None when it cannot be read (the row
    then fails in its worker, naming the file)."""
    if not path or not os.path.isfile(path):
        return None
    st = os.stat(path)
    memo = (path, st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            _DIGESTS[memo] = h.hexdigest()[:16]
        except OSError:
            _DIGESTS[memo] = None
    return _DIGESTS[memo]


def _input_files(config: dict) -> list[str]:
    light = config.get("light", {})
    files = [config.get("surface", {}).get("path"), light.get("envmap"), config.get("truth")]
    for key in ("init", "mask"):
        value = light.get(key)
        if isinstance(value, str) and os.path.isabs(value):
            files.append(value)
    files.append(config.get("twin"))
    # pod: its lights are files, or names (uniform, studio)
    files += [v for v in config.get("lights") or () if isinstance(v, str) and os.path.isabs(v)]
    return [f for f in files if f]


def row_key(command: str, config: dict) -> str:
    inputs = {f: file_digest(f) for f in _input_files(config)}
    blob = json.dumps({"command": command, "config": config, "inputs": inputs}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def make_rows(options_list: list[dict], base_dir: str, defaults: dict | None = None,
              names: list[str] | None = None, plan_defaults: dict | None = None) -> list[Row]:
    """Rows for the plan's option dictionaries; ``defaults`` (the batch's ``--seed``,
    ``--device``) apply where a row does not set the option. An option that came from the
    plan's ``[defaults]`` (same value) and that the row's command does not take is left out
    (defaults serve rows of every command); any other unknown option fails its row. Bad
    options give a row with ``error`` set, never an exception."""
    names = names or row_names(options_list)
    plan_defaults = plan_defaults or {}
    rows = []
    for name, opts in zip(names, options_list):
        command = str(opts.get("command", "optimize"))
        takes = command_options(command)
        opts = {k: v for k, v in opts.items() if k in takes or k in META_OPTIONS
                or is_generator_option(k) or k not in plan_defaults or plan_defaults[k] != v}
        merged = {**(defaults or {}), **opts}
        row = Row(name=name, command=command, options=dict(merged))
        try:
            cfg = config_for(command, merged, base_dir)
            row.config = config_to_dict(cfg)
            row.key = row_key(command, row.config)
        except InputError as e:
            row.error = error_line(e)
        except (TypeError, ValueError) as e:  # a value of the wrong kind deep in a config
            row.error = error_line(e)
        rows.append(row)
    return rows


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=+-]+", "_", str(text)).strip("._") or "row"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(_fmt(v) for v in value)
    return str(value)


def row_names(options_list: list[dict]) -> list[str]:
    """Folder names: a row's ``name``, else the height map's stem (and the command, when the
    plan has several), followed by the options that differ between the rows sharing that
    start (``fm-1_lam=30``); repeats get ``-2``, ``-3``, ...

    Raises InputError('name') when two rows are given the same ``name``.
    """
    commands = {str(o.get("command", "optimize")) for o in options_list}
    given = [_slug(o["name"]) for o in options_list if "name" in o]
    if len(set(given)) != len(given):
        dup = next(n for n in given if given.count(n) > 1)
        raise InputError("name", f"two rows are named {dup!r}")

    def start(opts) -> str:
        generator = next((k.partition(".")[0] for k in opts if is_generator_option(k)), "row")
        generator = "mill" if generator == "gcode" else generator
        stem = os.path.splitext(os.path.basename(str(opts.get("heightmap", generator))))[0]
        return "_".join([stem] + ([str(opts.get("command", "optimize"))] if len(commands) > 1 else []))

    groups: dict[str, list[dict]] = {}
    for opts in options_list:
        groups.setdefault(start(opts), []).append(opts)
    names, used = [], set(given)
    for opts in options_list:
        if "name" in opts:
            names.append(_slug(opts["name"]))
            continue
        group = groups[start(opts)]
        keys = sorted({k for o in group for k in o} - set(META_OPTIONS) - {"heightmap"})
        varying = [k for k in keys if len({repr(o.get(k)) for o in group}) > 1]
        stem = start(opts)  # synth_feed=100 rather than synth_synth.feed=100
        parts = [stem] + [f"{k.removeprefix(stem + '.')}={_fmt(opts[k])}" for k in varying
                          if k in opts]
        base = _slug("_".join(parts))
        name, k = base, 2
        while name in used:
            name, k = f"{base}-{k}", k + 1
        used.add(name)
        names.append(name)
    return names

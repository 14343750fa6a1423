"""Reading a batch plan (TOML or CSV) and expanding it into rows of flat options.

A row is a dictionary of options named like the command-line flags without dashes
(``heightmap``, ``resolution``, ``lam``, ...), plus ``command`` (optimize, render, relight or
evaluate; default optimize) and an optional ``name`` for its results folder.

TOML::

    mode = "per-part"            # or "shared-light": one light for every part
    light = "studio.exr"         # shared-light: this file ...
    [reference]                  # ... or the light optimized on this part first
    heightmap = "parts/a.npz"
    [defaults]                   # options of every row
    resolution = 128
    [sweep]                      # lists expanded as a product, for every row (below)
    heightmap = ["parts/*.npz"]  # height maps may be globs (relative to the plan)
    lam = [10, 30]
    [[rows]]                     # explicit rows (default: one row of the defaults)
    heightmap = "milled-face.sur"
    sweep = { roughness = [0.02, 0.05] }   # a sweep of this row only
    [report]                     # the plot of summary.csv: a metric against an option
    metric = "loss_after"
    x = "lam"

Sweeps: every row of ``[[rows]]`` (or the one row of the defaults when there are none) is
multiplied by the plan's ``[sweep]`` and by its own ``sweep``. An option the row sets itself
beats the swept values (a row with its own ``heightmap`` is not multiplied by the swept
height maps); a plan-``[sweep]`` option the row's command does not take (``lam`` on an
evaluate row) is left out of that row, so it is not multiplied by it either. The same run
twice is one row.

CSV: a header of option names (``heightmap`` required, ``command`` and ``name`` optional),
one row per run; an empty cell keeps the option's default; lines whose first cell starts
with ``#`` are comments. Cells are numbers, ``true``/``false`` or text.

Instead of a ``heightmap``, a row may give the parameters of its surface: ``synth.*``,
``mill.*`` and ``gcode.*`` keys (``synth.feed = [80, 120]``; see ``batch.surfaces``).

A plan that cannot be read or understood raises ``InputError(plan file, problem)``, and so
does a name that no batch command takes (``[defaults] lamda = 3``: "defaults.lamda: unknown
option; did you mean 'lam'?"); an option another command takes, or a bad value, only fails
its rows (see ``batch.options``).
"""
from __future__ import annotations

import csv
import dataclasses
import glob
import itertools
import os
from typing import Any

from ..errors import InputError
from ..options import unknown_name
from .options import check_option_names
from .surfaces import flatten, is_generator_option

__all__ = ["Plan", "load_plan", "MODES", "PLAN_KEYS", "parse_cell"]

MODES = ("per-part", "shared-light")
PLAN_KEYS = ("mode", "light", "reference", "defaults", "sweep", "rows", "report")
_GLOB_CHARS = set("*?[")


@dataclasses.dataclass
class Plan:
    """An expanded plan: ``rows`` of flat options, in plan order.

    Attributes:
        path: the plan file (absolute); relative paths in it are relative to ``base_dir``.
        mode: 'per-part' (each row as given) or 'shared-light' (one light for all rows).
        light: shared-light: the light file (absolute), or None with ``reference``.
        reference: shared-light: the options of the optimize run whose light is shared.
        rows: the rows, each a dict of options (``heightmap`` resolved to absolute paths).
        defaults: the plan's [defaults] (left out of rows whose command does not take them).
        swept: the options the sweeps vary (the plan's and the rows' own), in plan order.
        report: ``{"metric": ..., "x": ...}`` for the plot (may be empty).
    """

    path: str
    base_dir: str
    mode: str = "per-part"
    light: str | None = None
    reference: dict[str, Any] | None = None
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    swept: list[str] = dataclasses.field(default_factory=list)
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)
    report: dict[str, str] = dataclasses.field(default_factory=dict)


def parse_cell(text: str) -> Any:
    """A CSV cell as a value: int, float, bool (true/false) or the stripped text."""
    t = text.strip()
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    return t


def load_plan(path: str | os.PathLike) -> Plan:
    """Read and expand the plan ``path`` (``.toml`` or ``.csv``)."""
    path = os.path.abspath(os.fspath(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".toml", ".csv"):
        raise InputError(path, "a plan is a .toml or .csv file")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(path, f"cannot read the plan: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "the plan is not UTF-8 text") from None
    plan = _from_toml(path, text) if ext == ".toml" else _from_csv(path, text)
    if not plan.rows:
        raise InputError(path, "the plan has no rows")
    return plan


# ------------------------------------------------------------------------------ TOML
def _from_toml(path: str, text: str) -> Plan:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError:
            raise InputError(path, "TOML plans need Python >= 3.11 or the tomli package "
                                   "(pip install tomli); CSV plans work anyway") from None

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, f"not valid TOML: {e}") from None
    unknown = sorted(set(doc) - set(PLAN_KEYS))
    if unknown:
        raise InputError(path, f"unknown plan key {unknown[0]!r} (expected {', '.join(PLAN_KEYS)}; "
                               f"options go under [defaults], [sweep] or [[rows]])")
    base = os.path.dirname(path)
    plan = Plan(path=path, base_dir=base, mode=doc.get("mode", "per-part"))
    if plan.mode not in MODES:
        raise InputError(path, f"mode must be {' or '.join(MODES)}, got {plan.mode!r}")
    defaults = flatten(_table(path, doc, "defaults"))
    sweep = flatten(_table(path, doc, "sweep"))
    plan.report = {k: str(v) for k, v in _table(path, doc, "report").items()}
    rows = doc.get("rows", [{}])
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(path, "rows must be an array of tables ([[rows]])")
    rows = [{k: flatten(v) if k == "sweep" and isinstance(v, dict) else v
             for k, v in flatten(r).items()} for r in rows]
    _check_names(path, doc, defaults, sweep, rows, plan.report)
    if not rows:
        rows = [{}]
    _shared_light(path, doc, plan)

    axes = _axes(path, base, sweep, "sweep")
    plan.swept = list(axes)
    seen = set()
    if isinstance(defaults.get("heightmap"), str):
        defaults["heightmap"] = _abs(base, defaults["heightmap"])
    plan.defaults = defaults
    for k, row in enumerate(rows):
        row = dict(row)
        own = row.pop("sweep", {})
        if not isinstance(own, dict):
            raise InputError(path, f"rows[{k}].sweep must be a table of lists")
        row_axes = {**axes, **_axes(path, base, own, f"rows[{k}].sweep")}
        plan.swept += [n for n in row_axes if n not in plan.swept]
        maps = [None]
        if isinstance(row.get("heightmap"), str):
            maps = _expand(path, base, row["heightmap"], f"rows[{k}].heightmap")
            if len(maps) > 1 and "heightmap" not in plan.swept:
                plan.swept.append("heightmap")
        names = list(row_axes)
        # the plan's [sweep] serves rows of every command: a swept option this row's command
        # does not take is left out of it (as with [defaults]); the row's own sweep is not
        takes = _takes(plan.mode, defaults, row)
        for hm, combo in itertools.product(maps, itertools.product(*row_axes.values())):
            # precedence: defaults < sweeps < the row's own values
            swept = {n: v for n, v in zip(names, combo)
                     if n in own or takes is None or n in takes or is_generator_option(n)}
            opts = {**defaults, **swept, **row}
            if hm is not None:
                opts["heightmap"] = hm
            marker = repr(sorted(opts.items(), key=lambda kv: kv[0]))
            if marker not in seen:  # the same run twice is one row
                seen.add(marker)
                plan.rows.append(opts)
    return plan


def _takes(mode: str, defaults: dict, row: dict) -> set[str] | None:
    """The options the row's command takes (None for an unknown command: the row fails
    later with its own message)."""
    from .options import COMMANDS, command_options

    command = row.get("command", defaults.get("command",
                                              "evaluate" if mode == "shared-light" else "optimize"))
    return command_options(command) if command in COMMANDS else None


def _axes(path: str, base: str, sweep: dict, where: str) -> dict[str, list]:
    """A sweep table as {option: values}; height-map globs expanded."""
    axes = {}
    for name, values in sweep.items():
        if isinstance(values, str) and name == "heightmap":
            values = [values]
        if not isinstance(values, list) or not values:
            raise InputError(path, f"{where}.{name}: expected a non-empty list of values")
        if name == "heightmap":
            values = [p for v in values for p in _expand(path, base, v, f"{where}.{name}")]
        axes[name] = values
    return axes


def _table(path: str, doc: dict, key: str) -> dict:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise InputError(path, f"{key} must be a table ([{key}])")
    return dict(value)


def _shared_light(path: str, doc: dict, plan: Plan) -> None:
    light, reference = doc.get("light"), doc.get("reference")
    if isinstance(reference, dict):
        reference = flatten(reference)
    if plan.mode == "per-part":
        if light is not None or reference is not None:
            raise InputError(path, "light and [reference] need mode = \"shared-light\"")
        return
    if (light is None) == (reference is None):
        raise InputError(path, "mode shared-light needs either light = FILE or a [reference] table")
    if light is not None:
        if not isinstance(light, str) or not light:
            raise InputError(path, "light must be the path of an environment-map file")
        plan.light = _abs(plan.base_dir, light)
        if not os.path.isfile(plan.light):
            raise InputError(path, f"light: no such file {light!r}")
    else:
        if not isinstance(reference, dict) or not isinstance(reference.get("heightmap"), str):
            raise InputError(path, "[reference] needs the heightmap of the reference part")
        defaults = {k: v for k, v in flatten(_table(path, doc, "defaults")).items()
                    if k != "command"}
        plan.reference = {**defaults, **reference, "command": "optimize",
                          "heightmap": _abs(plan.base_dir, reference["heightmap"])}


def _check_names(path: str, doc: dict, defaults: dict, sweep: dict, rows: list,
                 report: dict) -> None:
    """Refuse a name no batch command takes anywhere in the plan, naming the closest
    valid one, before anything runs or is written."""
    from .summary import check_plot

    try:
        check_option_names(defaults, "defaults.")
        check_option_names(sweep, "sweep.")
        reference = doc.get("reference")
        if isinstance(reference, dict):
            check_option_names(flatten(reference), "reference.")
        for k, row in enumerate(rows):
            check_option_names([n for n in row if n != "sweep"], f"rows[{k}].")
            if isinstance(row.get("sweep"), dict):
                check_option_names(row["sweep"], f"rows[{k}].sweep.")
        for key in report:
            if key not in ("metric", "x"):
                e = unknown_name(key, ("metric", "x"), "[report] key")
                raise InputError(f"report.{key}", e.problem)
        check_plot(report.get("metric"), report.get("x"), "report.metric", "report.x")
    except InputError as e:
        raise InputError(path, f"{e.path}: {e.problem}") from None


# ------------------------------------------------------------------------------ CSV
def _from_csv(path: str, text: str) -> Plan:
    base = os.path.dirname(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise InputError(path, "the plan is empty")
    try:
        table = list(csv.reader(lines))
    except csv.Error as e:
        raise InputError(path, f"not valid CSV: {e}") from None
    header = [h.strip() for h in table[0]]
    if "heightmap" not in header and not any(is_generator_option(h) for h in header):
        raise InputError(path, "the CSV header needs a heightmap column (or synth.* / "
                               "mill.* columns)")
    if any(not h for h in header):
        raise InputError(path, "the CSV header has an empty column name")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise InputError(path, f"column {dup!r} appears twice in the CSV header")
    try:
        check_option_names(header)
    except InputError as e:
        raise InputError(path, f"column {e.path}: {e.problem}") from None
    plan = Plan(path=path, base_dir=base)
    for k, cells in enumerate(table[1:], start=2):
        if len(cells) > len(header):
            raise InputError(path, f"row {k} has {len(cells)} cells but the header {len(header)}")
        opts = {h: parse_cell(c) for h, c in zip(header, cells) if c.strip()}
        for key in ("heightmap", "name", "command"):
            if key in opts:
                opts[key] = str(opts[key])
        if "heightmap" in opts:
            opts["heightmap"] = _abs(base, opts["heightmap"])
        plan.rows.append(opts)
    return plan


# ------------------------------------------------------------------------------ paths
def _abs(base: str, p: str) -> str:
    return os.path.normpath(os.path.join(base, os.path.expanduser(p)))


def _expand(path: str, base: str, value, where: str) -> list[str]:
    """A height-map entry as absolute paths: a glob is expanded (sorted), and must match."""
    if not isinstance(value, str):
        raise InputError(path, f"{where}: expected a file path, got {value!r}")
    full = _abs(base, value)
    if not _GLOB_CHARS & set(value):
        return [full]
    found = sorted(p for p in glob.glob(full) if os.path.isfile(p))
    if not found:
        raise InputError(path, f"{where}: {value!r} matches no file")
    return found

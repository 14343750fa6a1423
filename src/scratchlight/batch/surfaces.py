"""Height maps generated from a row's machining parameters: ``synth.*``, ``mill.*``, ``gcode.*``.

A row may give, instead of a ``heightmap`` file, the parameters of the surface:

- ``synth.<option>``: an option of ``scratchlight synth`` (``SynthConfig``: ``synth.kind``,
  ``synth.feed``, ``synth.runout``, ``synth.scratches``, ...), lengths in micrometres as
  its flags;
- ``mill.<option>``: an option of ``scratchlight mill`` (``MillConfig``: ``mill.program``,
  ``mill.tool``, ``mill.stock``, ``mill.region``, ``mill.spacing``, ``mill.envelope``),
  ``gcode.<name>``: the value of the program's ``#<name>`` (or ``#N`` for ``gcode.N``),
  also filled into ``mill.tool`` (``mill.params.substitute``), and ``defects.<option>``
  (:class:`PlantedDefects`): scratches planted into the milled surface as ``synth`` plants
  them, so that its rows have a truth mask and a twin (the milled surface itself).

In a TOML plan these are dotted keys (``synth.feed = [80, 120]``, or a ``synth = {...}``
table), flattened by :func:`flatten`; a CSV plan's header names them dotted. A misspelt
name is refused with the closest one (:func:`check_generator_name`).

Each distinct surface is generated once, by the driver, before the rows run: the
parameters' digest names it in the cache (``<cache>/surfaces/synth-<digest>.npz``, where
``<cache>`` is the batch's ``--cache-dir`` or ``user_cache.cache_root()``), written
atomically, so rows and later batches with the same parameters reuse it. The row's config
then names that file as its ``heightmap`` (its ``run.json`` replays as it is), and an
optimize or evaluate row of a ``synth`` surface with planted defects gets the defect-free
twin as ``twin`` (d' in the summary). The injected files are left out of the row's
options (the summary shows the parameters, not the cache's file names).

After an optimize row on a generated surface, :func:`write_feed_marks` measures the
visibility of the machining marks under the optimized light (``feed_marks.json``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from typing import Any

from ..errors import InputError
from ..options import option

__all__ = ["GENERATORS", "is_generator_option", "generator_options", "check_generator_name",
           "flatten", "Prepared", "prepare_surfaces", "write_feed_marks", "FEED_MARKS_FILE",
           "FEED_MARK_METRICS", "surface_cache_dir"]

GENERATORS = ("synth", "mill", "gcode", "defects")
FEED_MARKS_FILE = "feed_marks.json"
FEED_MARK_METRICS = ("scratch_gradient", "feed_mark_gradient")
_GCODE_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$")
_VERSION = 1  # part of every digest: a change of the generators' output bumps it


@dataclasses.dataclass
class PlantedDefects:
    """Scratches planted into a milled surface (``defects.*`` keys), drawn as ``synth``
    draws them for the same seed; lengths in micrometres, as ``synth``'s flags."""

    scratches: int = option(0, "number of planted scratches", lo=0, hi=1000)
    scratch_width: float = option(30e-6, "scratch width, micrometres", flag_scale=1e-6,
                                  lo=0.0, lo_open=True)
    scratch_depth: float = option(2e-6, "scratch depth, micrometres", flag_scale=1e-6,
                                  lo=0.0, lo_open=True)
    scratch_profile: str = option("v", "scratch cross-section", choices=("v", "round"))
    seed: int = option(0, "seed of the scratches' paths", lo=0, hi=2 ** 31 - 1)

    def plant(self, hm):
        """``hm`` (a HeightMap on a square grid) with the scratches cut in and their
        ``truth``; the paths are ``synth``'s for this seed (its 'scratches' stream)."""
        import numpy as np

        from ..surface.synthetic.defects import plant_scratches

        stream = np.random.SeedSequence(self.seed).spawn(5)[3]  # synthesize's _STREAMS
        removal, truth = plant_scratches(hm.heights.shape, hm.dx, self.scratches,
                                         self.scratch_width, self.scratch_depth,
                                         self.scratch_profile, seed=stream)
        return dataclasses.replace(hm, heights=hm.heights - removal, truth=truth & hm.valid)


def is_generator_option(name: str) -> bool:
    """True for ``synth.*``, ``mill.*``, ``gcode.*`` and ``defects.*`` names."""
    return str(name).partition(".")[0] in GENERATORS and "." in str(name)


def generator_options() -> set[str]:
    """Every ``synth.<option>`` and ``mill.<option>`` name (``gcode.*`` names are the
    program's own)."""
    from ..mill.config import MillConfig
    from ..options import option_table
    from ..surface.synthetic.config import SynthConfig

    return {f"synth.{n}" for n in option_table(SynthConfig)} | \
        {f"mill.{n}" for n in option_table(MillConfig)} | \
        {f"defects.{n}" for n in option_table(PlantedDefects)}


def check_generator_name(name: str) -> None:
    """Raise InputError(name, 'unknown option; did you mean ...') for a ``synth.*`` or
    ``mill.*`` name that is not an option, or a ``gcode.*`` name that no program can use."""
    from ..options import unknown_name

    if name.startswith("gcode."):
        if not _GCODE_NAME.match(name[6:]):
            raise InputError(name, "a program parameter is gcode.NAME (#<NAME>) or gcode.N (#N)")
        return
    valid = generator_options()
    if name not in valid:
        raise unknown_name(name, valid)


def flatten(table: dict[str, Any]) -> dict[str, Any]:
    """A plan table with its ``synth``, ``mill`` and ``gcode`` sub-tables as dotted names
    (``{"synth": {"feed": [80]}}`` -> ``{"synth.feed": [80]}``); other keys unchanged."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key in GENERATORS and isinstance(value, dict):
            out.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            out[key] = value
    return out


def surface_cache_dir(cache_dir: str | None = None) -> str:
    """``<cache>/surfaces``: ``cache_dir`` or the user cache (``$SCRATCHLIGHT_CACHE``)."""
    from ..user_cache import cache_root

    return os.path.join(cache_dir or cache_root(), "surfaces")


@dataclasses.dataclass
class Prepared:
    """The rows' options with the generated files filled in.

    Attributes:
        options: per row, its options plus ``heightmap`` (and ``twin``) where generated.
        injected: per row, the option names filled in (left out of the row's options).
        errors: per row, the one-line problem of its parameters (None when fine).
        generated: surfaces generated now (twins included).
        reused: surfaces found in the cache.
    """

    options: list[dict[str, Any]]
    injected: list[tuple[str, ...]]
    errors: list[str | None]
    generated: int = 0
    reused: int = 0


def _digest(doc: dict) -> str:
    blob = json.dumps({"version": _VERSION, **doc}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _file_sha(path: str) -> str:
    """SHA-256 of a (small) file's bytes; '' for no file."""
    if not path:
        return ""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _line(e: BaseException) -> str:
    """A row's error as one line (``synth.feed: must be a positive number, got 0.0``)."""
    if isinstance(e, InputError):
        text = f"{e.path}: {e.problem}" if e.path else e.problem
    else:
        text = f"{type(e).__name__}: {e}"
    return " ".join(str(text).split())[:500]


def _prefixed(e: InputError, prefix: str) -> InputError:
    path = e.path or ""
    if path and not os.path.isabs(path) and not path.startswith(prefix):
        path = prefix + path
    return InputError(path, e.problem)


class _Generator:
    def __init__(self, base_dir: str, cache_dir: str | None):
        self.base_dir, self.folder = base_dir, surface_cache_dir(cache_dir)
        self.generated = self.reused = 0
        self.done: dict[str, str] = {}  # digest -> file, within this batch

    def _have(self, path: str) -> bool:
        if path in self.done.values():
            return True
        if os.path.isfile(path):
            self.reused += 1
            self.done[path] = path
            return True
        return False

    def synth(self, params: dict[str, Any], twin: bool) -> dict[str, str]:
        from ..config import config_to_dict
        from ..io import write_npz
        from ..options import config_from_options
        from ..surface.synthetic.config import SynthConfig

        try:
            cfg = config_from_options(SynthConfig, params, self.base_dir, from_flag=True)
            cfg.validate()
        except InputError as e:
            raise _prefixed(e, "synth.") from None
        record = config_to_dict(cfg)
        digest = _digest({"synth": record})
        out = {"heightmap": os.path.join(self.folder, f"synth-{digest}.npz")}
        if twin and (cfg.scratches or cfg.dents):
            out["twin"] = os.path.join(self.folder, f"synth-{digest}-twin.npz")
        for key, path in out.items():
            if not self._have(path):
                try:
                    hm = cfg.synthesize(defects=key == "heightmap")
                except InputError as e:
                    raise _prefixed(e, "synth.") from None
                write_npz(path, hm, synth=json.dumps(record, sort_keys=True))
                self.generated += 1
                self.done[path] = path
        return out

    def mill(self, params: dict[str, Any], variables: dict[str, Any],
             defects: dict[str, Any], twin: bool) -> dict[str, str]:
        from ..config import config_to_dict
        from ..mill.config import MillConfig
        from ..mill.gcode import read_program_file
        from ..mill.params import substitute
        from ..mill.run import run_mill
        from ..options import config_from_options

        try:
            cfg = config_from_options(MillConfig, params, self.base_dir)
            if not cfg.program:
                raise InputError("program", "give the G-code program file (mill.program)")
            if cfg.program and not os.path.isfile(cfg.program):
                raise InputError("program", f"no such file {cfg.program!r}")
            text = read_program_file(cfg.program)
            filled = substitute({cfg.program: text, "mill.tool": cfg.tool}, variables)
            cfg = dataclasses.replace(cfg, tool=filled["mill.tool"])
            cfg.validate()
        except InputError as e:
            raise _prefixed(e, "mill.") from None
        record = {**config_to_dict(cfg), "program": filled[cfg.program],
                  "tool_table": _file_sha(cfg.tool_table)}
        digest = _digest({"mill": record})
        path = os.path.join(self.folder, f"mill-{digest}.npz")
        if not self._have(path):
            from ..io import atomic_path

            program = os.path.join(self.folder, f"mill-{digest}.nc")
            with atomic_path(program, suffix=".nc") as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(filled[cfg.program])
            try:
                run_mill(dataclasses.replace(cfg, program=program), path, progress=False)
            except InputError as e:
                raise _prefixed(e, "mill.") from None
            self.generated += 1
            self.done[path] = path
        if not defects:
            return {"heightmap": path}
        return self.planted(path, defects, twin)

    def planted(self, milled: str, params: dict[str, Any], twin: bool) -> dict[str, str]:
        from ..config import config_to_dict
        from ..io import read_heightmap, write_npz
        from ..options import check_declared, config_from_options

        try:
            cfg = config_from_options(PlantedDefects, params, self.base_dir, from_flag=True)
            check_declared(cfg)
        except InputError as e:
            raise _prefixed(e, "defects.") from None
        record = config_to_dict(cfg)
        stem = os.path.splitext(milled)[0]
        path = f"{stem}-{_digest({'defects': record})[:12]}.npz"
        if not self._have(path):
            hm = read_heightmap(milled)
            if abs(hm.dx - hm.dy) > 1e-9 * hm.dx:
                raise InputError("defects.scratches", "scratches are planted on a square grid")
            write_npz(path, cfg.plant(hm), defects=json.dumps(record, sort_keys=True))
            self.generated += 1
            self.done[path] = path
        out = {"heightmap": path}
        if twin and cfg.scratches:
            out["twin"] = milled  # the milled surface itself: the same without the scratches
        return out


def _split(opts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parts: dict[str, dict[str, Any]] = {g: {} for g in GENERATORS}
    for key, value in opts.items():
        if is_generator_option(key):
            group, _, name = key.partition(".")
            parts[group][name] = value
    return parts


def prepare_surfaces(options_list: list[dict[str, Any]], base_dir: str,
                     cache_dir: str | None = None, progress: bool = False) -> Prepared:
    """Generate (or find in the cache) the surface of every row with generator options;
    see the module docstring. A row's bad parameter is its error, never an exception.
    ``progress``: a tqdm bar over the rows that generate theirs."""
    from tqdm import tqdm

    gen = _Generator(base_dir, cache_dir)
    prepared = Prepared([], [], [])
    generating = sum(any(map(is_generator_option, o)) for o in options_list)
    bar = tqdm(total=generating, desc="surfaces", unit="row",
               disable=not progress or generating == 0, leave=False)
    for opts in options_list:
        parts = _split(opts)
        out, error = dict(opts), None
        injected: dict[str, str] = {}
        try:
            milled = parts["mill"] or parts["gcode"] or parts["defects"]
            if parts["synth"] and milled:
                raise InputError("synth", "a row's surface comes from synth.* or from "
                                          "mill.* (with gcode.*, defects.*), not both")
            if (parts["synth"] or milled) and "heightmap" in opts:
                raise InputError("heightmap", "this row generates its height map from its "
                                              "synth.* or mill.* options: give one or the other")
            command = str(opts.get("command", "optimize"))
            takes_twin = command in ("optimize", "evaluate") and "twin" not in opts \
                and int(opts.get("shots", 1) or 1) == 1
            if parts["synth"]:
                injected = gen.synth(parts["synth"], takes_twin)
            elif milled:
                injected = gen.mill(parts["mill"], parts["gcode"], parts["defects"], takes_twin)
        except (InputError, TypeError, ValueError, OSError) as e:
            error = _line(e)
        out.update(injected)
        bar.update(1 if any(map(is_generator_option, opts)) else 0)
        prepared.options.append(out)
        prepared.injected.append(tuple(injected))
        prepared.errors.append(error)
    bar.close()
    prepared.generated, prepared.reused = gen.generated, gen.reused
    return prepared


def write_feed_marks(config: dict[str, Any], folder: str, guard: int = 3) -> dict[str, float]:
    """The visibility of the planted defects and of the machining marks in an optimize
    row's final render (``folder/after.exr``), written to ``folder/feed_marks.json``.

    Both are the objective's mean gradient ``sum M (|dY/di| + |dY/dj|) / sum M`` of the
    render's luminance Y (``report.metrics.mean_gradient``): ``scratch_gradient`` over the
    truth pixels (NaN-free: absent without a truth mask), ``feed_mark_gradient`` over the
    surface's pixels more than ``guard`` pixels from any defect, where only the machining
    marks (and roughness) vary. Same units, so the two compare directly.
    """
    import numpy as np
    from scipy import ndimage

    from ..io import write_json
    from ..io.images import read_envmap
    from ..optimize.config import OptimizeConfig
    from ..report.metrics import mean_gradient
    from ..session import Session

    cfg = OptimizeConfig.from_dict(config)
    session = Session(cfg.surface, cfg.scene, device=cfg.device)
    image = np.asarray(read_envmap(os.path.join(folder, "after.exr")), np.float64)
    surface = session.object_mask
    truth = session.truth_mask()
    out: dict[str, float] = {}
    background = surface
    if truth is not None:
        out["scratch_gradient"] = mean_gradient(image, truth)
        near = ndimage.binary_dilation(truth, iterations=guard)
        background = surface & ~near
    if background.sum() >= 16:
        out["feed_mark_gradient"] = mean_gradient(image, background)
    write_json(os.path.join(folder, FEED_MARKS_FILE), out)
    return out

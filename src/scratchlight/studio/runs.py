"""Optimize, judge and export from the page, through the session's own steps.

``plan_run`` turns the page's options into the session's ``LightConfig`` and
``OptimizerConfig`` and the initial map (on the Mitsuba thread: the transport engine of
the run is built there, and the ``specular`` map traces rays); ``execute_run`` is
``Session.optimize`` with the page's stop flag in its callback. ``export_results`` is
``Session.save`` into a folder under the studio's output folder, with a ``run.json`` that
``scratchlight optimize --config`` replays on its own: the height map, the painted region
(a PNG in the height map's grid) and the initial light (a painted one as an EXR) are saved
beside it, and the config names them by paths relative to its folder.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..optimize.config import LightConfig, OptimizeConfig, OptimizerConfig
from ..options import Option, check_value, coerce, option, option_table, unknown_name

__all__ = ["RunPlan", "parse_run_options", "run_option_form", "parse_evaluate_options",
           "evaluate_option_form", "plan_run", "execute_run", "evaluate_lights",
           "export_results", "INIT_CHOICES", "PAGE_OPTIONS", "EVALUATE_OPTIONS", "PageEvaluate"]

INIT_CHOICES = ("current", "constant", "random", "specular", "file")
"""The page's initial maps: ``init`` of the optimize command plus the painted light
(current) and a loaded light file (file)."""

PAGE_OPTIONS = ("lam", "iterations", "spp", "final_spp", "lr", "seed", "color", "l2_target",
                "engine")
"""The page's run options that are optimize options: their bounds, choices, help and
default come from the declarations of ``OptimizeConfig``'s fields; where the page's default
differs, the field's ``studio`` declaration gives it and says why."""
_PAGE_ENGINES = ("transport", "ad")  # the page relights through T, so 'auto' would only hide it
EVALUATE_OPTIONS = ("spp", "seeds")


@dataclasses.dataclass
class PageEvaluate:
    """The page's Evaluate button: ``Session.evaluate`` of the run's initial and final light,
    as ``scratchlight evaluate`` does with more samples (its 256 spp x 4 seeds take minutes
    on a CPU; the page's evaluation should take seconds)."""

    spp: int = option(64, "samples per pixel of each render (evaluate's default is 256; the "
                          "page's evaluation should take seconds)", lo=1, hi=65536)
    seeds: int = option(2, "independent renders (evaluate's default is 4; two give a standard "
                           "error and keep the page responsive)", lo=1, hi=1024)


@dataclasses.dataclass
class RunPlan:
    light: LightConfig
    optimizer: OptimizerConfig
    seed: int
    envmap: np.ndarray | None
    resume: bool


def _form(cls: type, names) -> dict[str, dict]:
    table = option_table(cls)
    form = {}
    for name in names:
        e = table[name]
        default, why = e.opt.studio if e.opt.studio else (e.default, None)
        form[name] = {"default": default, "lo": e.opt.lo, "hi": e.opt.hi,
                      "choices": list(e.opt.choices) if e.opt.choices else None,
                      "help": e.opt.help + (f" (here {default}, not {e.default}: {why})"
                                            if why else "")}
    return form


def run_option_form() -> dict[str, dict]:
    """The page's run options: ``{name: {default, lo, hi, choices, help}}`` (the page fills
    its form from this, ``GET /api/config``)."""
    form = _form(OptimizeConfig, PAGE_OPTIONS)
    form["engine"]["choices"] = list(_PAGE_ENGINES)
    form["init"] = {"default": "current", "lo": None, "hi": None, "choices": list(INIT_CHOICES),
                    "help": "initial map: the light on the page, specular, constant, random "
                            "or the loaded file"}
    form["constant"] = {"default": 0.5, "lo": 0.0, "hi": 1.0, "choices": None,
                        "help": "the value V of the constant initial map"}
    return form


def evaluate_option_form() -> dict[str, dict]:
    """The page's Evaluate options (spp, seeds), declared on ``PageEvaluate``."""
    return _form(PageEvaluate, EVALUATE_OPTIONS)


def _parse(options: dict, form: dict, cls: type) -> dict:
    if not isinstance(options, dict):
        raise InputError("options", "expected an object")
    table = option_table(cls)
    for name in options:
        if name not in form:
            raise unknown_name(name, form)
    out = {}
    for name, spec in form.items():
        value = options.get(name)
        if value is None or value == "":
            out[name] = spec["default"]
            continue
        e = table.get(name)
        try:
            value = coerce(e, value) if e is not None else \
                (str(value) if spec["choices"] else float(value))
        except InputError as err:
            raise InputError(name, err.problem) from None
        except (TypeError, ValueError):
            raise InputError(name, f"expected a number, got {value!r}") from None
        check_value(Option(help="", choices=tuple(spec["choices"] or ()) or None,
                           lo=spec["lo"], hi=spec["hi"],
                           lo_open=bool(e is not None and e.opt.lo_open)), name, value)
        out[name] = value
    return out


def parse_run_options(options: dict, previous: OptimizeConfig | None = None) -> dict:
    """Validated page options (``run_option_form``) with their defaults; an unknown name or
    a bad value raises InputError naming the option (and the closest valid name)."""
    return _parse(options, run_option_form(), OptimizeConfig)


def parse_evaluate_options(options: dict) -> dict:
    """Validated Evaluate options (``evaluate_option_form``): ``{"spp", "seeds"}``."""
    return _parse(options, evaluate_option_form(), PageEvaluate)


def plan_run(ws, action: str, options: dict) -> RunPlan:
    """The configs and initial map of a new run (``start``) or of more iterations of the
    last one (``resume``: only lam, l2_target and iterations may change). Mitsuba thread."""
    from .lights import to_channels

    session = ws._require()
    opts = parse_run_options(options)
    shape = tuple(ws.settings.envmap_shape)
    if action == "resume":
        prev = session.run
        if prev is None:
            raise InputError("resume", "there is no run to resume; press Optimize first")
        light = dataclasses.replace(prev.light, lam=opts["lam"] if opts["lam"] is not None else prev.light.lam,
                                    l2_target=opts["l2_target"])
        optimizer = dataclasses.replace(prev.optimizer, iterations=opts["iterations"])
        envmap = None
    else:
        init = opts["init"]
        light = LightConfig(color=opts["color"], envmap_size=shape, lam=opts["lam"],
                            l2_target=opts["l2_target"],
                            init=f"constant:{opts['constant']:g}" if init == "constant" else init)
        optimizer = OptimizerConfig(lr=opts["lr"], iterations=opts["iterations"], spp=opts["spp"],
                                    final_spp=opts["final_spp"], engine=opts["engine"])
        if init == "current":
            envmap = np.clip(to_channels(ws.light, light.channels), 0, 1)
        elif init == "file":
            path = ws.run_inputs.get("light_file")
            if not path:
                raise InputError("init", "load a light file first")
            light = dataclasses.replace(light, init=path)
            envmap = None
        else:
            envmap = None
        light.validate()
        optimizer.validate()
        if envmap is None:
            envmap = session.initial_envmap(light, opts["seed"])
        ws.run_inputs = {**ws.run_inputs, "init": init, "init_envmap": envmap}
        ws.run_note = ""  # a new run: its whole curve is under this camera
    ws.run_inputs["mask_mode"] = ws.mask_mode  # the region this (part of the) run counts
    ws.run_inputs["roi_cells"] = None if ws.roi_cells is None else ws.roi_cells.copy()
    # the run's engine (a transport matrix per spp) is built here, on the Mitsuba thread
    session.engine(optimizer.engine, optimizer.spp, opts["seed"] if action != "resume" else session.run.seed,
                   shape)
    return RunPlan(light, optimizer, opts["seed"], envmap, action == "resume")


def execute_run(ws, plan: RunPlan, callback):
    """``Session.optimize`` with the plan; ``callback(step)`` sees every iteration and the
    page's stop flag ends the run (the best map is kept)."""
    session = ws._require()
    ws.stop_event.clear()

    def on_step(step):
        callback(step)
        return ws.stop_event.is_set()

    with ws.lock:
        ws.optimizing = True
    try:
        if plan.resume:
            return session.optimize(plan.light, plan.optimizer, resume=True, callback=on_step)
        return session.optimize(plan.light, plan.optimizer, seed=plan.seed, envmap=plan.envmap,
                                callback=on_step)
    finally:
        with ws.lock:
            ws.optimizing = False


def _clean(value):
    """JSON-safe numbers (NaN and inf become None)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate_lights(ws, spp: int, seeds: int, job=None) -> dict:
    """``Session.evaluate`` of the last run's initial and final light (Mitsuba thread)."""
    session = ws._require()
    run = session.run
    if run is None:
        raise InputError("evaluate", "optimize first: there is no before and after yet")
    out = {}
    for k, (name, E) in enumerate((("before", run.initial_envmap), ("after", run.envmap))):
        if job is not None:
            job.report(k / 2, f"rendering '{name}' ({seeds} x {spp} spp)")
        metrics, _ = session.evaluate(E, seeds=seeds, spp=spp)
        out[name] = _clean(metrics)
    return {"spp": spp, "seeds": seeds, "has_truth": session.truth_mask() is not None, **out}


def export_results(ws, out_root: str | os.PathLike, job=None) -> Path:
    """Write the last run's results folder and its zip; returns the zip's path."""
    from ..io import write_png
    from .lights import write_init_light

    session = ws._require()
    run = session.run
    if run is None:
        raise InputError("export", "optimize first: there is nothing to export")
    if ws.optimizing:
        raise InputError("export", "stop the optimization first")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(ws.surface_name or "surface").stem)[:40]
    root = Path(out_root) / "runs"
    root.mkdir(parents=True, exist_ok=True)
    n = 1
    while (root / f"{stem}-{ws.id[:6]}-{n:03d}").exists():
        n += 1
    folder = root / f"{stem}-{ws.id[:6]}-{n:03d}"
    folder.mkdir()
    light = run.light
    mode, cells = ws.run_inputs.get("mask_mode", "object"), ws.run_inputs.get("roi_cells")
    if mode == "painted" and cells is not None:
        from ..surface.prepare import resample_mask

        write_png(folder / "roi.png", resample_mask(cells, session.raw_shape))
        light = dataclasses.replace(light, mask="roi.png")
    else:
        light = dataclasses.replace(light, mask="scratch" if mode == "scratch" else "object")
    if ws.run_inputs.get("init") == "current":
        write_init_light(folder / "init_light.exr", run.initial_envmap)
        light = dataclasses.replace(light, init="init_light.exr")
    elif ws.run_inputs.get("init") == "file":  # the loaded light file travels with the run
        src = Path(light.init)
        shutil.copyfile(src, folder / f"init{src.suffix.lower()}")
        light = dataclasses.replace(light, init=f"init{src.suffix.lower()}")
    # the height map travels too: every file run.json names is in the folder, by a path
    # relative to it (``--config`` reads them beside the run.json, wherever it was moved)
    surface = Path(session.surface_config.path)
    name = surface.name  # a height-map extension: never one of the results' names
    shutil.copyfile(surface, folder / name)
    optimizer = dataclasses.replace(run.optimizer, iterations=run.iterations_done)
    config = OptimizeConfig(surface=dataclasses.replace(session.surface_config, path=name),
                            scene=session.scene_spec, light=light, optimizer=optimizer,
                            seed=run.seed, device=ws.settings.device)
    if job is not None:
        job.report(0.1, f"rendering before and after at {run.optimizer.final_spp} spp")
    session.save(folder, config)
    if job is not None:
        job.report(0.95, "writing the zip")
    archive = shutil.make_archive(str(folder), "zip", root_dir=folder)
    return Path(archive)

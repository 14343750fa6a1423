"""The detectability index d' of every figure's renders on a synthetic surface.

For each light a figure compares (:data:`CONDITIONS`: the panels of figures 3, 4, 6 and the
final lights of figure 7), the surface and its defect-free twin (``synthesize`` with
``scratches=0``, same seed) are rendered under that light with the same seeds and the same
resolved exaggeration, and :func:`scratchlight.report.detectability.detectability` gives
d' of the non-prewhitening (NPW) and channelized Hotelling (CHO) observers, who see the
image as a display shows it. The surface's own render at the run's ``final_render_seed``
is the run's ``before.exr`` / ``after.exr`` (the same render); the other seeds are
``final_render_seed + k``. Results are cached per run folder in ``dprime.json`` and reused
while the run, the twin and the settings are the same."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .experiments import INITS, RunSetup
from .figures import FIGURE_PANELS
from .records import read_map
from .verdicts import interval

OBSERVERS = (("npw", "NPW"), ("cho", "CHO"))

__all__ = ["CONDITIONS", "OBSERVERS", "condition_label", "twin_session", "add_dprime", "dprime_values",
           "dprime_summary"]


def _conditions() -> tuple:
    out = []
    for fig, panels in FIGURE_PANELS.items():
        out += [(fig, label, key, when) for label, key, when in panels]
    out += [("7", label, key, "after") for key, label in INITS]
    return tuple(out)


# (figure, panel label, experiment, "before" | "after"): every render a figure compares.
CONDITIONS = _conditions()


def condition_label(fig: str, label: str) -> str:
    return f"fig. {fig}: {label}"


def twin_session(case: dict, setup: RunSetup, session):
    """The Session of the case's defect-free twin, rendered exactly like ``session`` (the
    surface's): same surface options, same scene with the surface's resolved exaggeration."""
    from ..errors import InputError
    from ..session import Session
    from .runs import surface_config

    spec = dataclasses.replace(session.scene.spec)
    twin = Session(dataclasses.replace(surface_config(case, setup), path=case["twin"]), spec,
                   device=setup.device)
    if twin.heightmap.shape != session.heightmap.shape:
        raise InputError(case["twin"], "the twin's grid differs from the surface's")
    return twin


def _cache_key(summary: dict, case: dict, setup: RunSetup) -> dict:
    s = setup.settings
    return json.loads(json.dumps({"config": summary.get("config"), "twin": case["twin"],
                                  "renders": s.dprime_renders, "window": s.window,
                                  "seed": summary.get("final_render_seed")}))


def _dprime(facts: dict, twin, run_dir: Path, when: str, channels: int, seed0: int,
            setup: RunSetup) -> dict:
    from ..report.detectability import detectability

    s = setup.settings
    E = read_map(run_dir / ("envmap_initial.exr" if when == "before" else "envmap.exr"), channels)
    with_ = [read_map(run_dir / f"{when}.exr", 3)]
    with_ += [facts["session"].render_final(E, s.final_spp, seed=seed0 + k)
              for k in range(1, s.dprime_renders)]
    without = [twin.render_final(E, s.final_spp, seed=seed0 + k) for k in range(s.dprime_renders)]
    d = detectability(with_, without, facts["truth"], facts["object_mask"], window=s.window)
    return {"npw": d["npw"]["overall"], "cho": d["cho"]["overall"],
            "npw_min": d["npw"]["min"], "cho_min": d["cho"]["min"], "defects": d["defects"],
            "background_windows": d["background_windows"], "note": d["note"]}


def add_dprime(case: dict, setup: RunSetup, facts: dict, records: dict, out: Path) -> None:
    """Store ``record["dprime"][when]`` for every condition of a synthetic case (nothing for
    real maps: they have no twin)."""
    if case.get("twin") is None or facts.get("truth") is None or not facts["truth"].any():
        return
    twin = None
    wanted: dict[str, set] = {}
    for _, _, key, when in CONDITIONS:
        if key in records:
            wanted.setdefault(key, set()).add(when)
    for key, whens in wanted.items():
        rec = records[key]
        run_dir = out / rec["folder"]
        summary = json.loads((run_dir / "run.json").read_text())
        cache = run_dir / "dprime.json"
        ckey = _cache_key(summary, case, setup)
        try:
            saved = json.loads(cache.read_text()) if rec["reused"] else None
        except (OSError, json.JSONDecodeError):
            saved = None
        if saved and saved.get("key") == ckey and whens <= set(saved.get("dprime", {})):
            rec["dprime"] = saved["dprime"]
            continue
        if twin is None:
            twin = twin_session(case, setup, facts["session"])
        channels = 1 if summary["config"]["light"]["color"] == "gray" else 3
        rec["dprime"] = {w: _dprime(facts, twin, run_dir, w, channels,
                                    summary["final_render_seed"], setup) for w in sorted(whens)}
        cache.write_text(json.dumps({"key": ckey, "dprime": rec["dprime"]}, indent=1) + "\n")


def dprime_values(seq: list[dict], key: str, when: str, observer: str) -> list:
    """d' of one observer for render (key, when), one value per seed (None where missing)."""
    return [r[key].get("dprime", {}).get(when, {}).get(observer) if key in r else None
            for r in seq]


def dprime_summary(cases: list[dict], runs: list[dict]) -> dict:
    """Per synthetic surface, one entry per condition: figure, label, experiment, render,
    and per observer the mean and t-interval over the seeds (:func:`.verdicts.interval`)."""
    out = {}
    for case in cases:
        seq = [r.get(case["name"], {}) for r in runs]
        if case["kind"] != "synthetic" or not any("dprime" in rec for recs in seq
                                                  for rec in recs.values()):
            continue
        out[case["name"]] = [
            {"figure": fig, "label": label, "experiment": key, "render": when,
             **{o: interval(dprime_values(seq, key, when, o)) for o, _ in OBSERVERS}}
            for fig, label, key, when in CONDITIONS if any(key in r for r in seq)]
    return out

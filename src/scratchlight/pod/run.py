"""``run_pod``: a whole ``pod`` run from its config to its folder.

The folder holds ``pod.json`` (the fits of every light: hit/miss GLM with a50, a90,
a90/95 and its method, the â-versus-a model, the orientation table, and the config),
``pod.csv`` (one row per defect and light), ``pod.png`` (POD curves with their 95 % lower
bands and the hits and misses), ``ahat.png`` (d' against size), ``orientation.png`` (hit
rate and d' against orientation), ``pod.html`` (a page of all of them) and ``run.json``
(the config, so ``scratchlight pod --config run.json`` repeats the run). Everything is
measured and fitted before the first file is written, and each file is written atomically.
"""
from __future__ import annotations

import os
import time

from ..config import config_to_dict
from ..io.atomic import write_json
from .analysis import AHAT_FLOOR_FRACTION, analyse_light
from .config import PodConfig
from .fit import CHI2_ONE_SIDED_95
from .measure import measure_defects, plates_of, sweep_defects

__all__ = ["run_pod", "pod_of_rows", "FILES"]

FILES = ("pod.json", "pod.csv", "pod.png", "ahat.png", "orientation.png", "pod.html", "run.json")


def _methods(cfg: PodConfig) -> dict:
    if cfg.bound == "lr":
        bound = (f"likelihood ratio (profile likelihood, chi-square(1) at 0.90 = "
                 f"{CHI2_ONE_SIDED_95:.4f}: one-sided 95 %)")
    else:
        bound = "Wald (delta method on ln a90, z = 1.645: one-sided 95 %)"
    return {"hit_miss": f"MIL-HDBK-1823A binomial GLM, {cfg.link} link on ln a; a90/95 by {bound}",
            "ahat": (f"MIL-HDBK-1823A ahat vs a: ln d' = b0 + b1 ln a + N(0, tau^2), d' below "
                     f"{AHAT_FLOOR_FRACTION:g} x threshold censored (Tobit ML); decision d' = "
                     f"{cfg.threshold:g}; a90/95 by Wald (delta method)")}


def pod_of_rows(rows: list[dict], cfg: PodConfig) -> dict:
    """The analysis (``analysis.analyse_light``) of every light in ``rows``."""
    names = list(dict.fromkeys(r["light"] for r in rows))
    return {name: analyse_light([r for r in rows if r["light"] == name], cfg.threshold,
                                cfg.link, cfg.bound) for name in names}


def run_pod(cfg: PodConfig, out_dir: str | os.PathLike, progress: bool = True,
            lights: dict | None = None, sequences: dict | None = None) -> dict:
    """Measure, fit and write the ``pod`` folder ``out_dir``; returns the ``pod.json``
    dictionary (its ``lights`` entry: one analysis per light, see ``analysis``).

    ``lights``: {name: (H, W, C) envmap} to use instead of ``cfg.lights`` (a light painted
    in the studio, the shots of a sequence); their names replace the config's in the files.
    ``sequences``: {name: [light names]}, each also analysed as one light that finds a
    defect when any of its shots does (``sequence.sequence_rows``).
    """
    from .plots import plot_ahat, plot_orientations, plot_pod_curves
    from .report import write_pod_csv, write_pod_page

    t0 = time.perf_counter()
    measured = measure_defects(cfg, progress=progress, lights=lights)
    rows = measured["rows"]
    if sequences:
        from .sequence import sequence_rows

        rows = rows + sequence_rows(rows, sequences)
    analyses = pod_of_rows(rows, cfg)
    spec = measured["scene"]
    defects = sweep_defects(cfg)
    doc = {
        "command": "pod",
        "surface": cfg.surface.path or f"synthetic {cfg.kind}, {cfg.size} x {cfg.size} points "
                                       f"at 5 um",
        "size_by": cfg.size_by, "size_unit": "um",
        "defects": len(defects), "plates": len(plates_of(cfg, defects)),
        "method": _methods(cfg),
        "camera": cfg.camera.describe(),
        "engine": measured["engine"], "device": measured["device"],
        "renders": measured["renders"],
        "scene": {"width": spec.width, "height": spec.height, "exaggeration": spec.exaggeration,
                  "camera": config_to_dict(spec.camera), "material": spec.material,
                  "roughness": spec.roughness},
        "lights": analyses,
        "config": config_to_dict(cfg),
        "seconds": 0.0,
    }
    doc["seconds"] = round(time.perf_counter() - t0, 2)
    out = os.fspath(out_dir)
    figures = {"pod": "pod.png", "ahat": "ahat.png", "orientation": "orientation.png"}
    label = cfg.size_by
    plot_pod_curves(os.path.join(out, figures["pod"]), analyses, rows, label)
    plot_ahat(os.path.join(out, figures["ahat"]), analyses, rows, cfg.threshold, label)
    plot_orientations(os.path.join(out, figures["orientation"]), analyses, rows)
    write_pod_csv(os.path.join(out, "pod.csv"), rows)
    write_json(os.path.join(out, "pod.json"), doc)
    write_pod_page(os.path.join(out, "pod.html"), doc, figures)
    write_json(os.path.join(out, "run.json"),
               {"command": "pod", "config": config_to_dict(cfg), "device": measured["device"],
                "seconds": doc["seconds"], "files": list(FILES)})
    return doc

"""Measuring a finished run from its results folder alone (``run.json``, ``envmap.exr``,
``envmap_initial.exr``, ``before.exr`` / ``after.exr``, ``mask.png``): the visibility metrics
of its high-spp renders, the statistics of its initial and final light, and, for the masked
runs, the mean gradient inside and outside their region (figure 6). Nothing here calls the
optimizer; the surface's scene facts come from :func:`scratchlight.study.runs.scene_facts`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .experiments import Experiment
from .measures import image_stats, map_stats, near_white_fraction

__all__ = ["read_map", "run_record", "region_stats"]


def read_map(path: Path, channels: int) -> np.ndarray:
    """An EXR light or render as float32 (H, W, 3), or (H, W, 1) for ``channels == 1``
    (gray maps are stored with three equal channels)."""
    from ..io import read_envmap

    E = read_envmap(str(path))
    return E[..., :1] if channels == 1 else E


def _channels(summary: dict) -> int:
    """Channels of the run's light: 1 for a gray run, 3 for RGB (run.json's config)."""
    return 1 if summary["config"]["light"]["color"] == "gray" else 3


def run_record(case: dict, exp: Experiment, summary: dict, run_dir: Path, out: Path,
               facts: dict, reused: bool) -> tuple[dict, dict]:
    """Measure one finished run: metrics of its high-spp renders, its maps, its curves.
    ``summary`` is its run.json, ``facts`` the surface's scene facts. Writes ``init.png``
    (preview of the initial light) into ``run_dir``. Returns (record, arrays) with arrays
    ``E0`` (initial light) and ``E`` (final light)."""
    from ..report.figures import write_envmap_preview
    from ..report.metrics import visibility_metrics

    mask, truth = facts["object_mask"], facts["truth"]
    channels = _channels(summary)
    E0 = read_map(run_dir / "envmap_initial.exr", channels)
    write_envmap_preview(str(run_dir / "init.png"), E0)
    E = read_map(run_dir / "envmap.exr", channels)
    seed = summary.get("final_render_seed")
    if seed != facts["white_seed"]:
        case["notes"].append(f"{exp.key}: rendered with seed {seed}, the white-light reference "
                             f"with seed {facts['white_seed']}: its near-white fraction compares "
                             f"different samples")
    rec = {"surface": case["name"], "experiment": exp.key, "label": exp.label,
           "folder": run_dir.relative_to(out).as_posix(), "reused": reused,
           "seconds": summary.get("total_time_s"), "loop_seconds": summary.get("time_s"),
           "lam": summary["lam"], "objective_before": summary["objective_before"],
           "objective_after": summary["objective_after"], "loss": summary["loss"],
           "map_before": map_stats(E0), "map_after": map_stats(E)}
    for when in ("before", "after"):
        img = read_map(run_dir / f"{when}.exr", 3)
        rec[f"metrics_{when}"] = visibility_metrics(img, mask, truth)
        rec[f"metrics_{when}"]["near_white"] = near_white_fraction(img, facts["white"], mask)
        rec[f"image_{when}"] = image_stats(img, mask)
    return rec, {"E0": E0, "E": E}


def region_stats(records: dict, out: Path, facts: dict) -> None:
    """For the masked runs: mean gradient inside and outside their mask, for them and for
    the unmasked base run (the numbers of figure 6), stored as their record's ``region``."""
    from ..io import read_png_mask
    from ..report.metrics import mean_gradient

    obj = facts["object_mask"]
    if "base" not in records:
        return
    for key in ("scratch", "roi"):
        if key not in records:
            continue
        region = read_png_mask(str(out / records[key]["folder"] / "mask.png")) & obj
        outside = obj & ~region
        stats = {"coverage": float(region.sum() / obj.sum())}
        for who in ("base", key):
            for when in ("before", "after"):
                img = read_map(out / records[who]["folder"] / f"{when}.exr", 3)
                stats[f"{who}_{when}_inside"] = mean_gradient(img, region) if region.any() else None
                stats[f"{who}_{when}_outside"] = (mean_gradient(img, outside)
                                                  if outside.sum() >= 4 else None)
        records[key]["region"] = stats

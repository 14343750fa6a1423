"""Judging rigs against the full light, the K = 1 .. 8 report and the recommendation.

Every rig (and the full map) is judged like the optimize command's results: on
independent Mitsuba renders at ``final_spp`` (seeds the fits never saw), by the scratch
objective and the visibility metrics (``report.metrics``; with ground truth on synthetic
surfaces). The recommended K is the smallest whose judged objective is within
``tolerance`` (5 %) of the full map's; lower is better.
"""
from __future__ import annotations

import csv
import os

import numpy as np

from ..io.atomic import atomic_path
from ..session import FINAL_RENDER_SEED

__all__ = ["judge_light", "recommend", "write_report"]

_METRICS = ("auc", "cnr", "detected_fraction", "mean_gradient", "rms_contrast",
            "clipped_fraction", "black_fraction")


def judge_light(session, F: np.ndarray, light_cfg, seeds: int, spp: int, seed: int = 0) -> dict:
    """Objective (mean over ``seeds`` renders) and metric means of the gray map F (H, W);
    the first render is kept under ``"image"``."""
    E = np.asarray(F, np.float32)[..., None]
    metrics, images = session.evaluate(E, seeds=seeds, spp=spp, seed=FINAL_RENDER_SEED + seed)
    terms = [session.judge(img, E, light_cfg) for img in images]
    out = {k: float(np.mean([t[k] for t in terms])) for k in terms[0]}
    out["metrics"] = {k: metrics[k]["mean"] for k in _METRICS if k in metrics}
    out["image"] = images[0]
    return out


def recommend(rows: list[dict], full_loss: float, tolerance: float = 0.05) -> tuple[int, bool]:
    """(K, within): the smallest K whose judged loss is within ``tolerance`` of the full
    map's, or the K with the lowest loss (within False) when none is. A row whose rig has
    lamps switched off (``lamps_with_power`` < K) is never recommended: the rig with fewer
    lamps that it equals is (the smallest K with the lowest loss)."""
    rows = [r for r in rows if r.get("lamps_with_power", r["count"]) == r["count"]] or rows
    for row in sorted(rows, key=lambda r: r["count"]):
        if row["loss"] <= (1 + tolerance) * full_loss:
            return row["count"], True
    return min(rows, key=lambda r: (r["loss"], r["count"]))["count"], False


def write_report(out_dir: str, rows: list[dict], full: dict, recommended: int | None,
                 title: str) -> list[str]:
    """``report.csv`` (one row per rig and one for the full map) and ``report.png``
    (judged objective against K, the full map's as a line)."""
    from ..report.figures import pyplot

    fields = ["rig", "count", "loss", "l_grad", "l_l2", "loss_vs_full", "loss_transport",
              "loss_start_transport", *_METRICS]
    table = [{"rig": "full map", "count": "", "loss_vs_full": 1.0, **full}] + rows
    with atomic_path(os.path.join(out_dir, "report.csv"), suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
            w.writeheader()
            for row in table:
                flat = {**row, **row.get("metrics", {})}
                w.writerow({k: ("" if flat.get(k) is None else
                                (f"{flat[k]:.6g}" if isinstance(flat.get(k), float) else flat[k]))
                            for k in fields})
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=120)
    counted = [r for r in rows if isinstance(r.get("count"), int)]
    if counted:
        ks = [r["count"] for r in counted]
        ax.plot(ks, [r["loss"] for r in counted], "o-", label="K-lamp rig")
        ax.set_xticks(ks)
    else:
        for k, r in enumerate(rows):
            ax.bar(k, r["loss"], label=r["rig"])
        ax.set_xticks([])
    ax.axhline(full["loss"], color="k", lw=1, label="full map")
    ax.axhline(full["loss"] * 1.05, color="k", lw=0.8, ls=":", label="full map + 5 %")
    if recommended is not None and counted:
        rec = [r for r in counted if r["count"] == recommended][0]
        ax.plot([recommended], [rec["loss"]], "r*", ms=12, label=f"recommended K = {recommended}")
    ax.set_xlabel("lamps K" if counted else "")
    ax.set_ylabel("objective (judged)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(os.path.join(out_dir, "report.png"), suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return ["report.csv", "report.png"]

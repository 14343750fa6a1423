"""The study's figures: one panel figure per paper figure (3, 4, 6, 7) and surface, renders
above their lights with the visibility numbers in the titles, and figure 8's loss curves.
Files are ``<surface>/fig<N>.png`` inside the output folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io.atomic import atomic_path
from .experiments import INITS
from .records import read_map
from .text import fmt, pct

__all__ = ["FIGURE_PANELS", "FIGURE_TITLES", "write_figures", "dprime_chart"]


# Figure panels: (label, experiment, "before" | "after").
FIGURE_PANELS = {
    "3": (("common light (studio map)", "rgb", "before"),
          ("optimized RGB (lam 10)", "rgb", "after"),
          ("optimized gray (lam 30)", "init_file", "after")),
    "4": (("no L2", "l2_none", "after"), ("L2 on I", "l2_image", "after"),
          ("L2 on E (paper)", "base", "after")),
    "6": (("initial light (constant 0.5)", "base", "before"), ("object mask", "base", "after"),
          ("scratch-map mask", "scratch", "after"),
          ("user region (planted scratches)", "roi", "after")),
}
FIGURE_TITLES = {
    "3": "Figure 3: common light vs optimized RGB vs optimized gray",
    "4": "Figure 4: the L2 term (none / on I / on E)",
    "6": "Figure 6: focusing the objective with the scratch map",
    "7": "Figure 7: initial states and what they converge to",
    "8": "Figure 8: loss against iteration for four initial states",
}


def _metric_line(rec: dict, when: str) -> str:
    m = rec[f"metrics_{when}"]
    parts = []
    if "auc" in m:
        parts.append(f"seen {pct(m['detected_fraction'])}  AUC {fmt(m['auc'], 3)}  "
                     f"CNR {fmt(m['cnr'], 3)}")
    parts.append(f"grad {fmt(m['mean_gradient'], 3)}  RMS {fmt(m['rms_contrast'], 3)}  "
                 f"near white {pct(m['near_white'])}")
    d = rec.get("dprime", {}).get(when)
    if d:
        parts.append(f"d' NPW {fmt(d['npw'], 3)}  CHO {fmt(d['cho'], 3)} (this seed)")
    return "\n".join(parts)


def _grid_figure(path: Path, columns: list[dict], row_labels: list[str], title: str) -> None:
    """Columns of images (linear float renders are tone-mapped, uint8 shown as is), with a
    title per column and a label per row."""
    from ..io.images import tonemap
    from ..report.figures import pyplot

    plt = pyplot()
    nr, nc = len(row_labels), len(columns)
    ratios = [max((np.asarray(c["images"][i]).shape[0] / np.asarray(c["images"][i]).shape[1]
                   for c in columns if c["images"][i] is not None), default=1.0)
              for i in range(nr)]
    fig, axes = plt.subplots(nr, nc, figsize=(3.1 * nc, 3.1 * sum(ratios) + 1.2), dpi=110,
                             squeeze=False, gridspec_kw={"height_ratios": ratios})
    for j, col in enumerate(columns):
        for i, image in enumerate(col["images"]):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            if image is not None:
                a = np.asarray(image)
                ax.imshow(a if a.dtype == np.uint8 else tonemap(a), interpolation="nearest")
            if i == 0:
                ax.set_title(col["title"], fontsize=8)
            if j == 0:
                ax.set_ylabel(row_labels[i], fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(str(path), suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _mask_image(path: Path) -> np.ndarray:
    """A mask PNG as a uint8 RGB picture (white = counts)."""
    from ..io import read_png_mask

    m = read_png_mask(str(path)).astype(np.uint8) * 255
    return np.repeat(m[..., None], 3, axis=2)


def _panel_figure(out: Path, case: dict, recs: dict, arrays: dict, fig: str) -> str | None:
    """Renders (top) and lights (below) of one paper figure on one surface; figure 6 adds
    the objective's mask."""
    from ..report.figures import envmap_preview

    cols, rows = [], ["render", "light"] + (["objective mask"] if fig == "6" else [])
    for label, key, when in FIGURE_PANELS[fig]:
        if key not in recs:
            continue
        folder = out / recs[key]["folder"]
        img = read_map(folder / f"{when}.exr", 3)
        E = arrays[key]["E0" if when == "before" else "E"]
        images = [img, envmap_preview(E, 4)]
        if fig == "6":
            images.append(_mask_image(folder / "mask.png"))
        cols.append({"title": f"{label}\n{_metric_line(recs[key], when)}", "images": images})
    if not cols:
        return None
    rel = f"{case['name']}/fig{fig}.png"
    _grid_figure(out / rel, cols, rows, f"{FIGURE_TITLES[fig]} - {case['name']}")
    return rel


def _init_figure(out: Path, case: dict, recs: dict, arrays: dict) -> str | None:
    """Figure 7: initial map, final map and final render of each init."""
    from ..report.figures import envmap_preview

    cols = []
    for key, label in INITS:
        if key not in recs:
            continue
        img = read_map(out / recs[key]["folder"] / "after.exr", 3)
        cols.append({"title": f"{label}\n{_metric_line(recs[key], 'after')}",
                     "images": [envmap_preview(arrays[key]["E0"], 4),
                                envmap_preview(arrays[key]["E"], 4), img]})
    if not cols:
        return None
    rel = f"{case['name']}/fig7.png"
    _grid_figure(out / rel, cols, ["initial light", "optimized light", "render"],
                 f"{FIGURE_TITLES['7']} - {case['name']}")
    return rel


def _loss_figure(out: Path, case: dict, recs: dict) -> str | None:
    from ..report.figures import plot_losses

    curves = {label: recs[key]["loss"] for key, label in INITS if key in recs}
    if not curves:
        return None
    rel = f"{case['name']}/fig8.png"
    plot_losses(str(out / rel), curves, title=f"{case['name']}: loss of the optimization loop",
                logy=True)
    return rel


def write_figures(out: Path, case: dict, recs: dict, arrays: dict) -> dict[str, str]:
    figs = {f: _panel_figure(out, case, recs, arrays, f) for f in FIGURE_PANELS}
    figs["7"] = _init_figure(out, case, recs, arrays)
    figs["8"] = _loss_figure(out, case, recs)
    return {k: v for k, v in figs.items() if v}


def dprime_chart(out: Path, name: str, entries: list[dict]) -> str | None:
    """``<surface>/dprime.png``: d' of every figure's renders (NPW and CHO bars, mean over
    seeds) with 95 % t-interval error bars; entries from :func:`.detect.dprime_summary`."""
    from ..report.figures import pyplot

    if not entries:
        return None
    plt = pyplot()
    x = np.arange(len(entries))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(entries) + 2), 4.2), dpi=110)
    for off, (o, label) in ((-0.2, ("npw", "NPW")), (0.2, ("cho", "CHO"))):
        mean = np.array([e[o]["mean"] for e in entries], np.float64)
        lo = np.array([e[o]["lo"] for e in entries], np.float64)
        hi = np.array([e[o]["hi"] for e in entries], np.float64)
        err = np.nan_to_num(np.vstack([mean - lo, hi - mean]), nan=0.0)
        ax.bar(x + off, mean, 0.4, yerr=err, capsize=2, label=f"d' {label}")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{e['figure']}: {e['label']}" for e in entries], rotation=60,
                       ha="right", fontsize=7)
    ax.set_ylabel("d' (mean, 95 % CI over seeds)")
    ax.set_title(f"{name}: detectability of the planted defects, display observer", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    rel = f"{name}/dprime.png"
    with atomic_path(str(out / rel), suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return rel

"""The figures of a ``pod`` run: POD curves with their bands, â against a, orientations.

Every figure is written atomically as a PNG (matplotlib's Agg backend).
"""
from __future__ import annotations

import numpy as np

from ..io.atomic import atomic_path

__all__ = ["plot_pod_curves", "plot_ahat", "plot_orientations"]

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")


def _figure(*size):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, plt.figure(figsize=size)


def _plain_log_ticks(axis) -> None:
    """Log-scale ticks written as plain numbers (0.5, 1, 2), not powers of ten."""
    from matplotlib import ticker

    axis.set_major_locator(ticker.LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def _save(plt, fig, path) -> None:
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_pod_curves(path, lights: dict, rows: list[dict], size_label: str) -> None:
    """POD(a) of each light (hit/miss GLM) with its 95 % lower band, a90 and a90/95 marked,
    and the hits (at 1) and misses (at 0) drawn with a little vertical jitter."""
    plt, fig = _figure(7.0, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(0)
    for k, (name, res) in enumerate(lights.items()):
        c = _COLOURS[k % len(_COLOURS)]
        mine = [r for r in rows if r["light"] == name and r["hit"] is not None]
        a = np.array([r["size_um"] for r in mine])
        y = np.array([r["hit"] for r in mine], float)
        ax.scatter(a * np.exp(rng.uniform(-0.04, 0.04, a.size)),
                   y + rng.uniform(-0.03, 0.03, a.size) * (1 - 2 * y), s=10, color=c, alpha=0.5)
        hm = res["hit_miss"]
        if hm["curve"] is None:
            ax.plot([], [], color=c, label=f"{name}: {hm['status']}")
            continue
        cur = hm["curve"]
        ax.plot(cur["size_um"], cur["pod"], color=c, label=f"{name}: a90 {hm['a90']:.3g}, "
                f"a90/95 " + (f"{hm['a90_95']:.3g}" if hm["a90_95"] else "unbounded"))
        ax.fill_between(cur["size_um"], cur["pod_lower95"], cur["pod"], color=c, alpha=0.15)
        ax.plot(cur["size_um"], cur["pod_lower95"], color=c, ls="--", lw=1)
        if hm["a90_95"]:
            ax.axvline(hm["a90_95"], color=c, ls=":", lw=1)
    ax.axhline(0.9, color="0.5", lw=0.8)
    ax.set_xscale("log")
    _plain_log_ticks(ax.xaxis)
    ax.set_ylim(-0.08, 1.08)
    ax.set_xlabel(f"{size_label} a, um (log scale)")
    ax.set_ylabel("POD(a)")
    ax.set_title("probability of detection: fit (solid), 95 % lower bound (dashed)")
    ax.legend(fontsize=8, loc="center right")
    _save(plt, fig, path)


def plot_ahat(path, lights: dict, rows: list[dict], threshold: float, size_label: str) -> None:
    """d' (â) against size, log-log, with each light's fitted line, the decision level and
    the censoring floor."""
    plt, fig = _figure(7.0, 4.4)
    ax = fig.add_subplot(1, 1, 1)
    floor = None
    for k, (name, res) in enumerate(lights.items()):
        c = _COLOURS[k % len(_COLOURS)]
        mine = [r for r in rows if r["light"] == name and r["dprime"] is not None]
        ah = res["ahat"]
        floor = ah.get("floor_ahat", floor)
        lo = floor or 0.1 * threshold
        ax.scatter([r["size_um"] for r in mine], [max(r["dprime"], lo) for r in mine], s=10,
                   color=c, alpha=0.5, label=f"{name}" + ("" if ah["status"] == "fitted"
                                                         else f" ({ah['status']})"))
        if ah.get("line"):
            ax.plot(ah["line"]["size_um"], ah["line"]["ahat"], color=c)
    ax.axhline(threshold, color="k", lw=0.8, ls="--", label=f"decision d' = {threshold:g}")
    if floor:
        ax.axhline(floor, color="0.6", lw=0.8, ls=":", label="censoring floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log_ticks(ax.xaxis)
    _plain_log_ticks(ax.yaxis)
    ax.set_xlabel(f"{size_label} a, um")
    ax.set_ylabel("â = d'")
    ax.legend(fontsize=8)
    _save(plt, fig, path)


def plot_orientations(path, lights: dict, rows: list[dict]) -> None:
    """Per light: the hit rate against orientation with its 95 % interval (left), and the
    median d' of each size against orientation (right)."""
    n = max(1, len(lights))
    plt, fig = _figure(10.0, 3.2 * n)
    for k, (name, res) in enumerate(lights.items()):
        ax = fig.add_subplot(n, 2, 2 * k + 1)
        ori = res["orientation"]
        if ori:
            x = [o["orientation_deg"] for o in ori]
            rate = np.array([o["hit_rate"] for o in ori])
            ci = np.array([o["hit_rate_ci95"] for o in ori])
            ax.errorbar(x, rate, yerr=[rate - ci[:, 0], ci[:, 1] - rate], marker="o", capsize=3)
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlim(-5, 180)
        ax.set_xlabel("orientation, degrees from x")
        ax.set_ylabel("hit rate")
        ax.set_title(f"{name}: hits by orientation (95 % CI)", fontsize=9)
        ax = fig.add_subplot(n, 2, 2 * k + 2)
        mine = [r for r in rows if r["light"] == name and r["dprime"] is not None]
        sizes = sorted({r["size_um"] for r in mine})
        for j, s in enumerate(sizes):
            angles = sorted({r["orientation_deg"] for r in mine if r["size_um"] == s})
            med = [np.median([r["dprime"] for r in mine
                              if r["size_um"] == s and r["orientation_deg"] == t]) for t in angles]
            ax.plot(angles, med, marker=".", label=f"{s:g} um",
                    color=_COLOURS[j % len(_COLOURS)] if len(sizes) <= 6 else None)
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlim(-5, 180)
        ax.set_xlabel("orientation, degrees from x")
        ax.set_ylabel("median d'")
        ax.set_title(f"{name}: d' by orientation and size", fontsize=9)
        if sizes:
            ax.legend(fontsize=7, ncol=2)
    _save(plt, fig, path)

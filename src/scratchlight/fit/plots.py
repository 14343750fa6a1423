"""The figure of a fit: loss per iteration and, with a known truth, parameter errors over time.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["ERROR_KEYS", "plot_fit_history"]

ERROR_KEYS = ("envmap_rmse_weighted", "envmap_rmse", "roughness_error")
"""History entries of the parameter errors, in the order they are plotted."""


def plot_fit_history(path: str | os.PathLike, history: dict[str, list[float]], title: str) -> None:
    """Write a PNG: the loss estimate against the iteration (log scale) and, when
    ``history`` holds parameter errors (``ERROR_KEYS``), those against wall time ``time_s``
    (seconds, log scale) in a second panel.

    Args:
        path: the PNG file, written atomically.
        history: ``FitResult.history`` (lists of floats, one entry per iteration).
        title: the figure's title.
    """
    from ..io.atomic import atomic_path
    from ..report.figures import pyplot

    plt = pyplot()
    err_keys = [k for k in ERROR_KEYS if k in history]
    ncols = 2 if err_keys else 1
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 3.6), dpi=120, squeeze=False)
    ax = axes[0, 0]
    ax.plot(np.arange(1, len(history["loss"]) + 1), history["loss"], lw=1.2)
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss (estimate)")
    ax.grid(alpha=0.3)
    if err_keys:
        ax = axes[0, 1]
        for k in err_keys:
            ax.plot(history["time_s"], history[k], label=k.replace("_", " "), lw=1.2)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("parameter error")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

"""Figures people would rather look at than read: loss curves, envmap previews, panels."""
from __future__ import annotations

import os

import numpy as np

from ..io.atomic import atomic_path
from ..io.images import write_png

__all__ = ["pyplot", "plot_losses", "envmap_preview", "write_envmap_preview", "side_by_side"]


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend: the one set-up every figure
    of scratchlight goes through, so no command ever needs a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_losses(path: str | os.PathLike, curves: dict[str, list[float]], title: str = "",
                ylabel: str = "loss", logy: bool = False) -> None:
    """Write a PNG with one line per named curve (loss against iteration)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    for name, values in curves.items():
        ax.plot(np.arange(len(values)), values, label=name, lw=1.4)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    # fixed margins, not tight_layout: the figure's size is fixed, and tight_layout draws
    # it once more (0.1 s of every optimize's writing)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.14, top=0.9 if title else 0.96)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def envmap_preview(E: np.ndarray, scale: int = 8) -> np.ndarray:
    """uint8 (H*scale, W*scale, 3) picture of a [0, 1] envmap, texels as blocks, sRGB."""
    from ..io.images import tonemap
    from ..scene.envmap import envmap_rgb

    E = envmap_rgb(E)
    big = np.repeat(np.repeat(E, scale, axis=0), scale, axis=1)
    return tonemap(big)


def write_envmap_preview(path: str | os.PathLike, E: np.ndarray, scale: int = 8) -> None:
    write_png(path, envmap_preview(E, scale))


def side_by_side(path: str | os.PathLike, images: list[np.ndarray], titles: list[str],
                 suptitle: str = "") -> None:
    """A row of images (linear float (h, w, 3) are tone-mapped; uint8 shown as is)."""
    from ..io.images import tonemap

    plt = pyplot()
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), dpi=120, squeeze=False)
    for ax, img, title in zip(axes[0], images, titles):
        a = np.asarray(img)
        ax.imshow(a if a.dtype == np.uint8 else tonemap(a), interpolation="nearest",
                  cmap="gray" if a.ndim == 2 else None)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    if suptitle:
        fig.suptitle(suptitle)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.84 if suptitle else 0.92,
                        wspace=0.04)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)

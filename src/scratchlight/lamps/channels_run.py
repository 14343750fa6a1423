"""``run_channels``: channel levels from a station's images, and the files that show them.

The results folder: ``levels.csv`` (one row per shot and channel: ``shot``, ``channel``,
``group``, ``level``), ``sequence.csv`` (the same as one row per shot, a column per
channel), ``before.png`` (every channel at the best uniform level),
``after.png`` (``after_1.png`` .. ``after_K.png`` for K shots), ``compare.png`` (those
side by side), ``levels.png`` (the levels as bars) and ``run.json`` (the config, the
objective before and after, the starts, the timings). PNGs show the combined linear
luminance times ``exposure`` (the photos' own scale), through the sRGB curve, all divided
by one factor when the brightest reaches past 1 (its 99.9th percentile).
"""
from __future__ import annotations

import os
import time

import numpy as np

from ..config import config_to_dict
from ..errors import InputError
from ..io.atomic import atomic_path, write_json
from .channels import ChannelProblem, footprint_gram, image_gram
from .channels_search import solve
from .channels_config import ChannelsConfig
from .channels_io import ChannelStack, load_stack, read_channel_layout

__all__ = ["run_channels", "read_mask", "build_problem", "l2_target_of"]

MIN_MASK_PIXELS = 4


def read_mask(spec: str, shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool of 'all' or a mask image (white = in) of the photos' ``shape``."""
    from ..io.images import read_png_mask

    if spec == "all":
        M = np.ones(shape, bool)
    else:
        M = read_png_mask(spec)
        if M.shape != tuple(shape):
            raise InputError(spec, f"mask of {M.shape[1]} x {M.shape[0]} pixels, the channel "
                                   f"images {shape[1]} x {shape[0]}")
    inner = M.copy()
    inner[-1, :] = inner[:, -1] = False
    if inner.sum() < MIN_MASK_PIXELS:
        raise InputError(spec if spec != "all" else "mask",
                         f"the mask leaves fewer than {MIN_MASK_PIXELS} pixels with a forward "
                         f"neighbour")
    return inner


def l2_target_of(cfg: ChannelsConfig, photos) -> str:
    """The L2 target a run uses: ``auto`` is env when every channel has its geometry."""
    geometry = all(p.geometry is not None for p in photos)
    if cfg.l2_target == "auto":
        return "env" if geometry else "image"
    if cfg.l2_target == "env" and not geometry:
        raise InputError("l2_target", "env needs the channels' geometry in the layout "
                                      "(elevation_min, elevation_max, ... or elevation, "
                                      "azimuth, diameter); use image or none")
    return cfg.l2_target


def build_problem(cfg: ChannelsConfig, data: ChannelStack, mask: np.ndarray,
                  target: str) -> ChannelProblem:
    """The objective of ``cfg`` on the stack ``data`` within ``mask`` (L2 ``target``)."""
    from .dome import channel_footprints

    if cfg.objective == "defect-contrast":
        from .channels_defect import DefectContrastProblem

        prior = read_mask(cfg.prior, mask.shape)
        if not (prior & mask).any() or not (mask & ~prior).any():
            raise InputError(cfg.prior, "the defect prior must cover some, but not all, of "
                                        "the mask")
    if target == "env":
        gram = footprint_gram(channel_footprints([p.geometry for p in data.photos],
                                                 tuple(cfg.envmap_size)))
    elif target == "image":
        gram = image_gram(data.stack, mask)
    else:
        gram = None
    grid = tuple(cfg.regions) if cfg.shots > 1 else (1, 1)
    if cfg.objective == "defect-contrast":
        return DefectContrastProblem(data.stack, mask, lam=cfg.lam, gram=gram, prior=prior,
                                     max_total=cfg.max_total)
    return ChannelProblem(data.stack, mask, lam=cfg.lam, gram=gram, grid=grid,
                          sharpness=cfg.sharpness, max_total=cfg.max_total)


def _display(images: list[np.ndarray], exposure: float) -> list[np.ndarray]:
    top = max(float(np.percentile(im, 99.9)) for im in images) * exposure
    scale = exposure / max(top, 1.0)
    return [np.clip(im * scale, 0, None).astype(np.float32) for im in images]


def _plot_levels(path: str, names: list[str], X: np.ndarray, title: str) -> None:
    from ..report.figures import pyplot

    plt = pyplot()
    K, C = X.shape
    fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * C * max(K, 1) + 2), 3.6), dpi=120)
    width = 0.8 / K
    for s in range(K):
        ax.bar(np.arange(C) + (s - (K - 1) / 2) * width, X[s], width,
               label=f"shot {s + 1}" if K > 1 else "level")
    ax.set_xticks(np.arange(C))
    ax.set_xticklabels(names, rotation=90, fontsize=6 if C > 24 else 8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("level (drive, 0 to 1)")
    ax.set_title(title, fontsize=9)
    if K > 1:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def _write_levels(out_dir: str, photos, X: np.ndarray) -> None:
    """``levels.csv`` (a row per shot and channel) and ``sequence.csv`` (a row per shot, a
    column per channel: the station's program)."""
    import csv

    with atomic_path(os.path.join(out_dir, "levels.csv"), suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["shot", "channel", "group", "level"])
            for s in range(len(X)):
                for p, x in zip(photos, X[s]):
                    w.writerow([s + 1, p.name, p.group, f"{x:.6f}"])
    with atomic_path(os.path.join(out_dir, "sequence.csv"), suffix=".csv") as tmp:
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["shot", *(p.name for p in photos)])
            for s in range(len(X)):
                w.writerow([s + 1, *(f"{x:.6f}" for x in X[s])])


def run_channels(cfg: ChannelsConfig, out_dir: str | os.PathLike, progress: bool = True) -> dict:
    """Run ``cfg``: read the images, choose the levels, write ``out_dir``; returns the
    ``run.json`` dictionary (``time`` holds load_s, setup_s and solve_s)."""
    from ..io.images import write_png
    from ..report.figures import side_by_side
    from ..report.results import library_versions

    t_start = time.perf_counter()
    log = print if progress else (lambda *a, **k: None)
    cfg.validate()
    out_dir = os.fspath(out_dir)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(out_dir, "exists and is not a folder")
    ignore = tuple(p for p in (cfg.dark, None if cfg.mask == "all" else cfg.mask, cfg.prior)
                   if p)
    photos = read_channel_layout(cfg.layout, cfg.images, ignore)
    target = l2_target_of(cfg, photos)
    data = load_stack(photos, cfg.dark, cfg.curve, cfg.exposure, progress)
    C, h, w = data.stack.shape
    mask = read_mask(cfg.mask, (h, w))
    log(f"channels: {C} images of {w} x {h} pixels read in {data.load_s:.2f} s")
    t0 = time.perf_counter()
    problem = build_problem(cfg, data, mask, target)
    setup_s = time.perf_counter() - t0
    try:
        res = solve(problem, cfg.shots, cfg.solver, cfg.iterations, lr=cfg.lr)
    except ValueError as e:   # images with nothing to show
        raise InputError(cfg.images, str(e)) from None
    log(f"levels: objective {res.terms['loss']:.4g} (best single channel "
        f"{res.best_single[2]:.4g}, best uniform {res.best_uniform[1]:.4g}) in "
        f"{res.time_s:.2f} s, {res.evaluations} image passes")
    names = data.names
    limited = [names[c] for c in res.gain_limited]
    if limited:
        log(f"levels: {len(limited)} channel(s) at full drive would show the part better "
            f"brighter: {', '.join(limited[:8])}{' ...' if len(limited) > 8 else ''}")
    X = res.levels
    uniform = np.full((1, C), res.best_uniform[0])
    before = problem.images(uniform)[0]
    after = problem.images(X)
    shown = _display([before, *after], cfg.exposure)
    os.makedirs(out_dir, exist_ok=True)
    files = ["levels.csv", "sequence.csv", "before.png"]
    _write_levels(out_dir, photos, X)
    write_png(os.path.join(out_dir, "before.png"), shown[0])
    after_names = ["after.png"] if len(X) == 1 else [f"after_{s + 1}.png" for s in range(len(X))]
    for name, img in zip(after_names, shown[1:]):
        write_png(os.path.join(out_dir, name), img)
    files += after_names
    titles = [f"uniform {res.best_uniform[0]:.2f} (L {res.best_uniform[1]:.3g})"]
    dark = [s + 1 for s in range(len(X)) if X[s].max() < 1e-3]   # below 0.1 % drive
    titles += [(f"shot {s + 1}" + (" (dark)" if s + 1 in dark else "")) if len(X) > 1
               else f"levels (L {res.terms['loss']:.3g})" for s in range(len(X))]
    if dark and len(X) > 1:
        log(f"levels: shot(s) {', '.join(map(str, dark))} stay dark: more shots do not show "
            f"the part better here")
    side_by_side(os.path.join(out_dir, "compare.png"),
                 [np.repeat(im[..., None], 3, axis=2) for im in shown], titles)
    _plot_levels(os.path.join(out_dir, "levels.png"), names, X,
                 f"{C} channels, {len(X)} shot(s): objective {res.terms['loss']:.4g}")
    files += ["compare.png", "levels.png"]
    summary = {
        "command": "channels", "config": config_to_dict(cfg), "seed": cfg.seed,
        "l2_target": target, "image_size": [w, h], "mask_pixels": int(problem.n),
        "channels": [{"channel": p.name, "file": os.path.basename(p.file), "group": p.group,
                      "exposure": p.exposure, "clipped_fraction": data.clipped[p.name]}
                     for p in photos],
        "levels": [[float(v) for v in row] for row in X], "objective": res.terms,
        "best_single_channel": {"channel": names[res.best_single[0]],
                                "level": res.best_single[1], "loss": res.best_single[2]},
        "best_uniform": {"level": res.best_uniform[0], "loss": res.best_uniform[1]},
        "starts": res.starts, "history": res.history, "gain_limited_channels": limited,
        "dark_shots": dark,
        "time": {"load_s": round(data.load_s, 4), "setup_s": round(setup_s, 4),
                 "solve_s": round(res.time_s, 4), "image_passes": res.evaluations,
                 "total_s": round(time.perf_counter() - t_start, 3)},
        "files": files + ["run.json"], "versions": library_versions(),
    }
    write_json(os.path.join(out_dir, "run.json"), summary)
    return summary

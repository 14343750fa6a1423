"""Rerun the experiments of the scratch-visibility paper (SPEC section A) and report them.

``reproduce(out_dir)`` optimizes the light on synthetic surfaces with planted scratches
(ground truth known) and on the real height maps of ``<repo>/../shared/data``, for every
variant the paper's figures compare:

- figure 3: a common environment map (a generated "studio" map) against the light optimized
  from it in RGB (lam 10) and in gray (lam 30, the map converted by CIE L*);
- figure 4: no L2 term, L2 on the image I, L2 on the light E (the paper's);
- figure 6: the objective over every surface pixel, over the paper's scratch map, and (on
  synthetic surfaces) over a user region around the planted scratches;
- figures 7 and 8: four initial states (constant 0.5, random, specular, the studio file) and
  their loss curves.

Each run is an ordinary ``run_optimization`` folder (``<surface>/<experiment>/``); a folder
whose ``run.json`` holds the same config is reused, not run again. Every before/after image
is a separate high-spp render scored with :mod:`scratchlight.report.metrics`. The paper's
claims are then checked against the numbers (rules and thresholds in :data:`CLAIMS` and the
``_claim_*`` functions), and ``report.html``, ``summary.md`` and ``results.json`` are written
into ``out_dir`` together with one panel figure per paper figure and surface.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError
from ..io.atomic import atomic_path

__all__ = [
    "Settings", "QUICK", "FULL", "Experiment", "EXPERIMENTS", "CLAIMS", "SPARSE_LEVEL",
    "default_data_dir", "studio_envmap", "colourfulness", "map_stats", "pairwise_rms",
    "convergence_stats", "reproduce",
]


# --------------------------------------------------------------------------- settings

@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of one reproduction. ``real`` lists (file name, crop) with crop ``None``, or
    ``"square"`` for the central square window of a long map."""

    mode: str
    synthetic: tuple[str, ...]
    real: tuple[tuple[str, str | None], ...]
    size: int
    scratches: int
    resolution: int
    iterations: int
    spp: int
    final_spp: int
    envmap_size: tuple[int, int] = (25, 50)


QUICK = Settings(mode="quick", synthetic=("face-mill",), real=(), size=96, scratches=3,
                 resolution=32, iterations=8, spp=4, final_spp=16)
FULL = Settings(mode="full", synthetic=("face-mill", "turning"),
                real=(("milled-face.sur", None), ("bullet-land-sample.x3p", "square")),
                size=256, scratches=4, resolution=128, iterations=100, spp=16, final_spp=128)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One optimization run per surface. ``overrides`` are OptimizeConfig fields; the values
    ``"@studio"`` and ``"@roi"`` stand for the generated studio map and the surface's region
    of interest."""

    key: str
    label: str
    overrides: tuple[tuple[str, object], ...] = ()
    synthetic_only: bool = False


EXPERIMENTS = (
    Experiment("base", "gray, constant 0.5, L2 on E, object mask (the paper's settings)"),
    Experiment("rgb", "RGB from the studio map, lam 10", (("color", "rgb"), ("init", "@studio"))),
    Experiment("l2_none", "no L2 term", (("l2_target", "none"),)),
    Experiment("l2_image", "L2 on the image I", (("l2_target", "image"),)),
    Experiment("scratch", "objective over the scratch map", (("mask", "scratch"),)),
    Experiment("roi", "objective over a user region around the planted scratches",
               (("mask", "@roi"),), synthetic_only=True),
    Experiment("init_random", "random initial light", (("init", "random"),)),
    Experiment("init_specular", "specular-direction initial light", (("init", "specular"),)),
    Experiment("init_file", "studio map converted by CIE L* as initial light",
               (("init", "@studio"),)),
)

# A texel counts as off (for sparsity) below this value; as full on at or above 1 - this.
SPARSE_LEVEL = 0.02
# Figure 7/8: the inits compared, as (experiment, label).
INITS = (("base", "constant 0.5"), ("init_random", "random"), ("init_specular", "specular"),
         ("init_file", "studio map (CIE L*)"))
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


def default_data_dir() -> Path:
    """``<repo>/../shared/data``, the real height maps beside the repository."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data"


# --------------------------------------------------------------------------- inputs

def studio_envmap(shape: tuple[int, int] = (64, 128)) -> np.ndarray:
    """A common "studio" lat-long light (H, W, 3), linear RGB in [0, 1], row 0 the zenith.

    A blue-to-white sky over a warm, darker floor with a soft horizon, plus a large warm
    softbox 35 degrees up: the kind of light a renderer ships as its default.
    """
    H, W = shape
    theta = (np.arange(H) + 0.5) / H * np.pi          # 0 at the zenith
    phi = (np.arange(W) + 0.5) / W * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    elev = np.pi / 2 - th
    up = np.clip(np.sin(elev), 0, 1)[..., None]
    sky = (1 - up) * np.array([0.85, 0.88, 0.9]) + up * np.array([0.25, 0.42, 0.8])
    down = np.clip(-np.sin(elev), 0, 1)[..., None]
    floor = (1 - down) * np.array([0.42, 0.36, 0.3]) + down * np.array([0.12, 0.09, 0.07])
    blend = 1 / (1 + np.exp(-elev / 0.05))[..., None]   # soft horizon
    E = blend * sky + (1 - blend) * floor
    box_d = np.arccos(np.clip(np.sin(elev) * np.sin(np.radians(35)) + np.cos(elev)
                              * np.cos(np.radians(35)) * np.cos(ph - np.radians(120)), -1, 1))
    E = E + np.exp(-(box_d / np.radians(14)) ** 2)[..., None] * np.array([0.6, 0.5, 0.35])
    return np.clip(E, 0, 1).astype(np.float32)


def _central_square(shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x0, y0, nx, ny) of the largest central square window of a (ny, nx) grid."""
    ny, nx = shape
    n = min(ny, nx)
    return ((nx - n) // 2, (ny - n) // 2, n, n)


def _synthetic_case(out: Path, kind: str, settings: Settings, seed: int) -> dict:
    """Write a synthetic surface (.npz) and the region-of-interest PNG around its scratches."""
    from scipy import ndimage

    from ..io import write_npz, write_png
    from ..surface import synthesize

    hm = synthesize(kind, size=settings.size, scratches=settings.scratches, seed=seed)
    path = out / "surfaces" / f"{kind}.npz"
    write_npz(str(path), hm)
    roi = ndimage.binary_dilation(hm.truth, np.ones((3, 3), bool), iterations=3)
    roi_path = out / "surfaces" / f"{kind}-roi.png"
    write_png(str(roi_path), roi)
    return {"name": kind, "kind": "synthetic", "heightmap": str(path), "crop": None,
            "roi": str(roi_path), "source": hm.source, "notes": []}


def _real_case(data_dir: Path, filename: str, crop: str | None) -> dict | None:
    """The case of a real map in ``data_dir``, or None when the file is missing."""
    from ..io import read_heightmap

    path = data_dir / filename
    if not path.is_file():
        return None
    notes, box = [], None
    if crop == "square":
        shape = read_heightmap(str(path)).shape
        box = _central_square(shape)
        if box[2:] != (shape[1], shape[0]):
            notes.append(f"{filename} ({shape[1]} x {shape[0]} points) is cropped to its central "
                         f"{box[2]} x {box[3]} window so the surface fills the square image")
    return {"name": Path(filename).stem, "kind": "real", "heightmap": str(path), "crop": box,
            "roi": None, "source": filename, "notes": notes}


def _cases(out: Path, settings: Settings, seed: int, data_dir: Path, notes: list) -> list[dict]:
    """Every surface of the reproduction; missing real maps become notes."""
    cases = [_synthetic_case(out, k, settings, seed) for k in settings.synthetic]
    for filename, crop in settings.real:
        case = _real_case(data_dir, filename, crop)
        if case is None:
            notes.append(f"{filename} not found in {data_dir}: skipped")
        else:
            cases.append(case)
    return cases


# --------------------------------------------------------------------------- measures

def colourfulness(E: np.ndarray) -> float:
    """How far a light is from gray: sum over texels of the standard deviation of R, G, B
    divided by the sum of their mean (0 for a gray map; 0 for a black one)."""
    E = np.asarray(E, np.float64)
    if E.ndim == 2 or E.shape[2] == 1:
        return 0.0
    mean = E[..., :3].mean(axis=2).sum()
    return float(E[..., :3].std(axis=2).sum() / mean) if mean > 0 else 0.0


def map_stats(E: np.ndarray) -> dict[str, float]:
    """Mean value, sparsity (fraction of texels whose brightest channel is below
    ``SPARSE_LEVEL``), fraction of texels at 1 (>= 1 - SPARSE_LEVEL) and colourfulness."""
    E = np.asarray(E, np.float64)
    peak = E.max(axis=2) if E.ndim == 3 else E
    return {"mean": float(E.mean()), "sparsity": float(np.mean(peak < SPARSE_LEVEL)),
            "at_one": float(np.mean(peak >= 1 - SPARSE_LEVEL)), "colourfulness": colourfulness(E)}


def _gray(E: np.ndarray) -> np.ndarray:
    """Luminance-free comparison form of a map: the channel mean (H, W)."""
    E = np.asarray(E, np.float64)
    return E.mean(axis=2) if E.ndim == 3 else E


def pairwise_rms(maps: dict[str, np.ndarray]) -> dict[str, float]:
    """RMS difference of every pair of maps, keyed ``"a | b"``."""
    names = list(maps)
    out = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            out[f"{a} | {b}"] = float(np.sqrt(np.mean((_gray(maps[a]) - _gray(maps[b])) ** 2)))
    return out


def _trailing_mean(x: np.ndarray, w: int) -> np.ndarray:
    """Mean of the last ``w`` values up to each index (fewer at the start)."""
    c = np.cumsum(np.concatenate([[0.0], x]))
    k = np.arange(1, x.size + 1)
    lo = np.maximum(k - w, 0)
    return (c[k] - c[lo]) / (k - lo)


def convergence_stats(curves: dict[str, list[float]], tolerance: float = 0.10) -> dict[str, dict]:
    """Speed and stability of loss curves of the same problem.

    - ``final``: mean of the last 10 % of the iterations (at least one).
    - ``iterations_to_converge``: first iteration whose trailing mean (window 5 % of the run,
      at least 3) is within ``tolerance`` of the best ``final`` of all curves; None if never.
    - ``jitter``: RMS of the curve minus its centred moving average (same window), divided by
      its ``final``: the iteration-to-iteration wobble, 0 for a smooth curve.
    """
    from scipy.ndimage import uniform_filter1d

    arrays = {k: np.asarray(v, np.float64) for k, v in curves.items() if len(v)}
    if not arrays:
        return {}
    n = max(a.size for a in arrays.values())
    w = max(3, int(round(0.05 * n)))
    finals = {k: float(a[-max(1, a.size // 10):].mean()) for k, a in arrays.items()}
    target = min(finals.values()) * (1 + tolerance)
    out = {}
    for k, a in arrays.items():
        hit = np.nonzero(_trailing_mean(a, w) <= target)[0]
        smooth = uniform_filter1d(a, size=min(w, a.size), mode="nearest")
        out[k] = {"start": float(a[0]), "final": finals[k],
                  "iterations_to_converge": int(hit[0]) if hit.size else None,
                  "jitter": float(np.sqrt(np.mean((a - smooth) ** 2)) / abs(finals[k]))
                  if finals[k] else float("nan")}
    return out


def _image_stats(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    from ..objectives import luminance

    Y = luminance(image)[mask]
    return {"mean_luminance": float(Y.mean()), "max_luminance": float(Y.max())}


def near_white_fraction(image: np.ndarray, white: np.ndarray, mask: np.ndarray,
                        level: float = 0.9) -> float:
    """Fraction of ``mask`` pixels at least ``level`` times as bright (luminance) as under a
    white light E = 1 (``white``), the brightest any light in [0, 1] can make them: the
    render's version of blown-out highlights."""
    from ..objectives import luminance

    Y, Yw = luminance(image)[mask], luminance(white)[mask]
    return float(np.mean(Y >= level * Yw)) if Y.size else float("nan")


# --------------------------------------------------------------------------- running

def _json_roundtrip(d: dict) -> dict:
    return json.loads(json.dumps(d))


def _reusable(run_dir: Path, cfg) -> dict | None:
    """The run.json of ``run_dir`` if it holds exactly ``cfg`` and its images exist."""
    need = ("run.json", "before.exr", "after.exr", "envmap.exr", "before.png", "after.png",
            "envmap.png", "mask.png")
    if not all((run_dir / f).is_file() for f in need):
        return None
    try:
        summary = json.loads((run_dir / "run.json").read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return summary if summary.get("config") == _json_roundtrip(cfg.to_dict()) else None


def _config(case: dict, exp: Experiment, settings: Settings, seed: int, engine: str,
            device: str, studio: str):
    """The OptimizeConfig of experiment ``exp`` on surface ``case``."""
    from ..optimize.config import OptimizeConfig

    cfg = OptimizeConfig(heightmap=case["heightmap"], crop=case["crop"],
                         width=settings.resolution, height=settings.resolution,
                         envmap_size=settings.envmap_size, iterations=settings.iterations,
                         spp=settings.spp, final_spp=settings.final_spp, engine=engine,
                         seed=seed, device=device)
    subst = {"@studio": studio, "@roi": case["roi"]}
    for field, value in exp.overrides:
        setattr(cfg, field, subst.get(value, value) if isinstance(value, str) else value)
    return cfg


def _read_map(path: Path, channels: int) -> np.ndarray:
    from ..io import read_envmap

    E = read_envmap(str(path))
    return E[..., :1] if channels == 1 else E


def _run_record(case: dict, exp: Experiment, cfg, summary: dict, run_dir: Path, out: Path,
                scene_info: dict, reused: bool) -> tuple[dict, dict]:
    """Measure one finished run: metrics of its high-spp renders, its maps, its curves.
    Returns (record, arrays) with arrays ``E0`` (initial light) and ``E`` (final light)."""
    from ..optimize.init import initial_envmap
    from ..report.figures import write_envmap_preview
    from ..report.metrics import visibility_metrics

    mask, truth = scene_info["object_mask"], scene_info["truth"]
    E0 = initial_envmap(cfg.init, tuple(cfg.envmap_size), cfg.channels, seed=cfg.seed,
                        scene=scene_info["scene"])
    write_envmap_preview(str(run_dir / "init.png"), E0)
    E = _read_map(run_dir / "envmap.exr", cfg.channels)
    rec = {"surface": case["name"], "experiment": exp.key, "label": exp.label,
           "folder": run_dir.relative_to(out).as_posix(), "reused": reused,
           "seconds": summary.get("total_time_s"), "loop_seconds": summary.get("time_s"),
           "lam": summary["lam"], "objective_before": summary["objective_before"],
           "objective_after": summary["objective_after"], "loss": summary["loss"],
           "map_before": map_stats(E0), "map_after": map_stats(E)}
    for when in ("before", "after"):
        img = _read_map(run_dir / f"{when}.exr", 3)
        rec[f"metrics_{when}"] = visibility_metrics(img, mask, truth)
        rec[f"metrics_{when}"]["near_white"] = near_white_fraction(img, scene_info["white"], mask)
        rec[f"image_{when}"] = _image_stats(img, mask)
    return rec, {"E0": E0, "E": E}


def _scene_info(case: dict, base_cfg, white_png: Path) -> dict:
    """The scene of a surface (shared by all its runs): object mask, truth in image space,
    scratch-map coverage, and the render under a white light (E = 1, written to
    ``white_png``)."""
    import dataclasses as dc

    from ..optimize.run import objective_mask, prepare_run

    from ..engines import ADEngine
    from ..io import write_png
    from ..optimize.run import FINAL_RENDER_SEED

    scene, mask, _ = prepare_run(dc.replace(base_cfg))
    hm = scene.heightmap
    truth = None
    if hm.truth is not None and hm.truth.any():
        truth = scene.cell_mask_to_image(hm.truth) & mask
    try:
        region = objective_mask(dc.replace(base_cfg, mask="scratch"), scene, hm.shape)
        coverage = float(region.sum() / mask.sum())
    except InputError:
        coverage = 0.0
    white = ADEngine(scene).render_progressive(
        np.ones(tuple(base_cfg.envmap_size) + (1,), np.float32), base_cfg.final_spp,
        seed=FINAL_RENDER_SEED)
    write_png(str(white_png), white)
    return {"scene": scene, "object_mask": mask, "truth": truth, "scratch_coverage": coverage,
            "white": white,
            "surface_pixels": int(mask.sum()),
            "truth_pixels": None if truth is None else int(truth.sum()),
            "exaggeration": float(scene.spec.exaggeration), "grid": list(hm.shape)}


def _run_case(case: dict, settings: Settings, seed: int, engine: str, device: str,
              studio: str, out: Path, fresh: bool, counter: list, log: Callable) -> tuple:
    """Every experiment on one surface; returns (records by key, arrays by key)."""
    from ..optimize.run import run_optimization

    exps = [e for e in EXPERIMENTS if case["kind"] == "synthetic" or not e.synthetic_only]
    base_cfg = _config(case, exps[0], settings, seed, engine, device, studio)
    info = _scene_info(case, base_cfg, out / case["name"] / "white.png")
    case.update({k: info[k] for k in ("scratch_coverage", "surface_pixels", "truth_pixels",
                                      "exaggeration", "grid")})
    records, arrays = {}, {}
    for exp in exps:
        counter[0] += 1
        cfg = _config(case, exp, settings, seed, engine, device, studio)
        run_dir = out / case["name"] / exp.key
        t0 = time.perf_counter()
        summary = None if fresh else _reusable(run_dir, cfg)
        reused = summary is not None
        try:
            if not reused:
                summary = run_optimization(cfg, str(run_dir), progress=False)
        except InputError as e:
            case["notes"].append(f"{exp.key}: not run ({e})")
            log(f"[{counter[0]:2d}/{counter[1]}] {case['name']} / {exp.key}: skipped ({e})")
            continue
        records[exp.key], arrays[exp.key] = _run_record(case, exp, cfg, summary, run_dir, out,
                                                        info, reused)
        b, a = summary["objective_before"]["loss"], summary["objective_after"]["loss"]
        how = "reused" if reused else f"{time.perf_counter() - t0:.1f} s"
        log(f"[{counter[0]:2d}/{counter[1]}] {case['name']} / {exp.key} ({exp.label}): {how}, "
            f"objective {b:.4g} -> {a:.4g} at {cfg.final_spp} spp")
    _region_stats(records, out, info)
    return records, arrays


def _region_stats(records: dict, out: Path, info: dict) -> None:
    """For the masked runs: mean gradient inside and outside their mask, for them and for
    the unmasked base run (the numbers of figure 6)."""
    from ..io import read_png_mask
    from ..report.metrics import mean_gradient

    obj = info["object_mask"]
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
                img = _read_map(out / records[who]["folder"] / f"{when}.exr", 3)
                stats[f"{who}_{when}_inside"] = mean_gradient(img, region) if region.any() else None
                stats[f"{who}_{when}_outside"] = (mean_gradient(img, outside)
                                                  if outside.sum() >= 4 else None)
        records[key]["region"] = stats


# --------------------------------------------------------------------------- claims

# How large a difference must be to count (smaller ones are "about equal").
DETECTED_MARGIN = 0.2      # fraction of planted defects (one of up to five)
AUC_MARGIN = 0.02
RELATIVE_MARGIN = 0.05     # for mean gradient, RMS contrast and ratios


def _sign(a: float, b: float, relative: bool = True, margin: float = RELATIVE_MARGIN) -> int:
    """+1 if a is clearly above b, -1 if clearly below, 0 if about equal (or undefined)."""
    if a is None or b is None or not (math.isfinite(a) and math.isfinite(b)):
        return 0
    tol = margin * max(abs(a), abs(b)) if relative else margin
    return 0 if abs(a - b) <= tol else (1 if a > b else -1)


def compare_visibility(case: dict, a: dict, b: dict) -> tuple[int | None, str]:
    """Is the render with metrics ``a`` more visible than the one with ``b``?

    With ground truth: the fraction of planted defects seen (Weber contrast >= 2 %) decides;
    when equal, the defect AUC (how much more local gradient the defects have than the rest
    of the surface, machining marks included). Without: mean gradient and RMS contrast must
    agree; when they point in opposite directions the answer is None (mixed).

    Returns (+1 | 0 | -1 | None, a short text with the numbers).
    """
    if case["kind"] == "synthetic" and math.isfinite(a.get("auc", float("nan"))):
        d = _sign(a["detected_fraction"], b["detected_fraction"], False, DETECTED_MARGIN)
        auc = _sign(a["auc"], b["auc"], False, AUC_MARGIN)
        text = (f"defects seen {_pct(a['detected_fraction'])} vs {_pct(b['detected_fraction'])}, "
                f"AUC {a['auc']:.3f} vs {b['auc']:.3f}, CNR {a['cnr']:.2f} vs {b['cnr']:.2f}")
        return (d if d else auc), text
    g = _sign(a["mean_gradient"], b["mean_gradient"])
    r = _sign(a["rms_contrast"], b["rms_contrast"])
    text = (f"mean gradient {a['mean_gradient']:.3g} vs {b['mean_gradient']:.3g}, RMS contrast "
            f"{a['rms_contrast']:.3g} vs {b['rms_contrast']:.3g}")
    return (None if g * r < 0 else (g or r)), text


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"


_WORD = {1: "more visible", 0: "about as visible", -1: "less visible", None: "mixed"}


def _finding(verdict: str, evidence: str, **values) -> dict:
    return {"verdict": verdict, "evidence": evidence, "values": values}


def _claim_better_than_common(case, recs):
    if not {"rgb", "init_file"} <= set(recs):
        return []
    opt, common = recs["init_file"]["metrics_after"], recs["rgb"]["metrics_before"]
    c, text = compare_visibility(case, opt, common)
    verdict = {1: "agrees", 0: "partly", -1: "differs", None: "partly"}[c]
    ev = f"optimized gray light vs common light: {_WORD[c]} ({text})"
    if case["kind"] == "synthetic" and (_sign(opt["auc"], common["auc"], False, AUC_MARGIN) < 0
                                        or _sign(opt["cnr"], common["cnr"]) < 0):
        ev += ("; but the optimized light brings out the machining marks too, so the defects "
               "stand out less from the rest of the surface (lower AUC or CNR) than on the "
               "common light's nearly featureless render")
    return [_finding(verdict, ev, comparison=c)]


def _claim_rgb_gray(case, recs):
    if "rgb" not in recs:
        return []
    c0 = recs["rgb"]["map_before"]["colourfulness"]
    c1 = recs["rgb"]["map_after"]["colourfulness"]
    E = recs["rgb"]["_arrays"]["E"]
    means = E.reshape(-1, E.shape[-1]).mean(axis=0)
    bright = E.max(axis=2) >= 0.5
    core = colourfulness(E[bright][None]) if bright.any() else float("nan")
    verdict = "agrees" if c1 <= 0.5 * c0 else ("partly" if c1 < c0 else "differs")
    change = f"{100 * (c1 / c0 - 1):+.0f} %" if c0 > 0 else "n/a"
    return [_finding(verdict, f"colourfulness of the light {c0:.3f} (studio map) -> {c1:.3f} "
                              f"after RGB optimization ({change}; 0 = gray); channel means R "
                              f"{means[0]:.3f} G {means[1]:.3f} B {means[2]:.3f}; texels "
                              f"brighter than 0.5: {int(bright.sum())}, their colourfulness "
                              f"{core:.3f}", before=c0, after=c1, bright_core=core)]


def _claim_gray_preferable(case, recs):
    if not {"rgb", "init_file"} <= set(recs):
        return []
    c, text = compare_visibility(case, recs["init_file"]["metrics_after"],
                                 recs["rgb"]["metrics_after"])
    verdict = {1: "agrees", 0: "agrees", -1: "differs", None: "partly"}[c]
    return [_finding(verdict, f"gray light vs RGB light: {_WORD[c]} ({text})", comparison=c)]


def _claim_no_l2_saturates(case, recs):
    if not {"l2_none", "base"} <= set(recs):
        return []
    none, env = recs["l2_none"], recs["base"]
    E0, E = none["_arrays"]["E0"], none["_arrays"]["E"]
    moved = np.abs(E - E0).max(axis=2) > SPARSE_LEVEL
    mean_moved = float(E.max(axis=2)[moved].mean()) if moved.any() else float("nan")
    at_one = float(np.mean(E.max(axis=2)[moved] >= 1 - SPARSE_LEVEL)) if moved.any() else 0.0
    white_n = none["metrics_after"]["near_white"]
    white_e = env["metrics_after"]["near_white"]
    sat_n = none["metrics_after"]["clipped_fraction"]
    to_one = mean_moved >= 0.8
    saturates = white_n >= white_e + 0.05
    verdict = "agrees" if to_one and saturates else ("partly" if to_one or saturates else "differs")
    ev = (f"without L2 the {int(moved.sum())} texels the optimizer moved average "
          f"{mean_moved:.2f} ({_pct(at_one)} of them at 1; whole map "
          f"{none['map_after']['mean']:.2f} vs {env['map_after']['mean']:.2f} with L2 on E); "
          f"surface pixels at >= 90 % of their "
          f"white-light brightness {_pct(white_n)} vs {_pct(white_e)} with L2 on E; pixels >= 1: "
          f"{_pct(sat_n)} (brightest surface pixel Y = "
          f"{none['image_after']['max_luminance']:.2f}: under a light capped at 1 the metal "
          f"cannot pass its reflectance)")
    return [_finding(verdict, ev, mean_moved=mean_moved, near_white_none=white_n,
                     near_white_env=white_e)]


def _claim_env_equals_image(case, recs):
    if not {"l2_image", "base"} <= set(recs):
        return []
    c, text = compare_visibility(case, recs["base"]["metrics_after"],
                                 recs["l2_image"]["metrics_after"])
    verdict = {0: "agrees", None: "partly", 1: "differs", -1: "differs"}[c]
    word = {1: "more visible than", 0: "about as visible as", -1: "less visible than",
            None: "mixed against"}[c]
    return [_finding(verdict, f"L2 on E {word} L2 on I ({text})", comparison=c)]


def _claim_env_sparse(case, recs):
    if not {"l2_image", "base"} <= set(recs):
        return []
    se, si = recs["base"]["map_after"]["sparsity"], recs["l2_image"]["map_after"]["sparsity"]
    s0 = recs["base"]["map_before"]["sparsity"]
    sparse, sparser = se >= 0.5, se >= si
    verdict = "agrees" if sparse and sparser else ("partly" if sparse or sparser else "differs")
    return [_finding(verdict, f"{_pct(se)} of texels below {SPARSE_LEVEL} with L2 on E "
                              f"(initially {_pct(s0)}), {_pct(si)} with L2 on I",
                     env=se, image=si)]


def _focus(r: dict, who: str) -> float | None:
    """Mean gradient inside the region over that outside it, after the run ``who``."""
    i, o = r.get(f"{who}_after_inside"), r.get(f"{who}_after_outside")
    return i / o if i is not None and o else None


def _claim_mask_focuses(case, recs):
    out = []
    for key, what in (("scratch", "scratch map"), ("roi", "user region")):
        r = recs.get(key, {}).get("region")
        if not r:
            continue
        f_mask, f_base = _focus(r, key), _focus(r, "base")
        if r["coverage"] >= 0.99 or f_mask is None or f_base is None:
            out.append(_finding("not testable", f"the {what} covers {_pct(r['coverage'])} of the "
                                                f"surface pixels: nothing to focus on",
                                mask=what, coverage=r["coverage"]))
            continue
        c = _sign(f_mask, f_base)
        verdict = {1: "agrees", 0: "partly", -1: "differs"}[c]
        g_mask = r[f"{key}_after_inside"] / r[f"{key}_before_inside"]
        g_base = r["base_after_inside"] / r["base_before_inside"]
        ev = (f"{what} ({_pct(r['coverage'])} of the surface): mean gradient inside / outside it "
              f"{f_mask:.2f} with the mask vs {f_base:.2f} without; inside it grew x{g_mask:.1f} "
              f"with the mask vs x{g_base:.1f} without")
        if case["kind"] == "synthetic":
            m, b = recs[key]["metrics_after"], recs["base"]["metrics_after"]
            ev += (f"; defects: CNR {m['cnr']:.2f} vs {b['cnr']:.2f}, AUC {m['auc']:.3f} vs "
                   f"{b['auc']:.3f}, seen {_pct(m['detected_fraction'])} vs "
                   f"{_pct(b['detected_fraction'])}")
        out.append(_finding(verdict, ev, mask=what, focus_masked=f_mask, focus_unmasked=f_base,
                            coverage=r["coverage"]))
    return out


def _init_maps(recs, which: str) -> dict:
    return {label: recs[key]["_arrays"][which] for key, label in INITS if key in recs}


def _claim_inits_similar(case, recs):
    maps0, maps1 = _init_maps(recs, "E0"), _init_maps(recs, "E")
    if len(maps0) < 3:
        return []
    d0, d1 = pairwise_rms(maps0), pairwise_rms(maps1)
    shrunk = sum(d1[p] <= 0.5 * d0[p] for p in d0)
    m0, m1 = float(np.mean(list(d0.values()))), float(np.mean(list(d1.values())))
    verdict = "agrees" if shrunk > len(d0) / 2 else ("partly" if m1 < m0 else "differs")
    losses = [recs[k]["objective_after"]["loss"] for k, _ in INITS if k in recs]
    spread = (max(losses) - min(losses)) / min(losses)
    far = max(d1, key=d1.get)
    return [_finding(verdict, f"mean pairwise RMS difference of the maps {m0:.3f} initially -> "
                              f"{m1:.3f} after; {shrunk} of {len(d0)} pairs at least halved "
                              f"(farthest pair after: {far}, {d1[far]:.3f}); final high-spp "
                              f"objectives spread by {100 * spread:.0f} % ((max - min) / min)",
                     initial=m0, final=m1, pairs_halved=shrunk, pairs=len(d0))]


def _claim_specular_faster(case, recs):
    curves = {label: recs[k]["loss"] for k, label in INITS if k in recs}
    if "specular" not in curves or len(curves) < 2:
        return []
    st = convergence_stats(curves)
    n = max(len(c) for c in curves.values())
    t = {k: (v["iterations_to_converge"] if v["iterations_to_converge"] is not None else n + 1)
         for k, v in st.items()}
    others = [k for k in st if k != "specular"]
    faster = t["specular"] <= min(t[k] for k in others)
    stabler = st["specular"]["jitter"] <= (1 + 2 * RELATIVE_MARGIN) * min(st[k]["jitter"]
                                                                          for k in others)
    verdict = "agrees" if faster and stabler else ("partly" if faster or stabler else "differs")
    fmt = lambda k: "never" if st[k]["iterations_to_converge"] is None else str(t[k])  # noqa: E731
    ev = ("iterations to come within 10 % of the best final loss: "
          + ", ".join(f"{k} {fmt(k)}" for k in st)
          + "; jitter: " + ", ".join(f"{k} {st[k]['jitter']:.3f}" for k in st))
    return [_finding(verdict, ev, stats=st)]


# (id, figure, the paper's claim, rule)
CLAIMS = (
    ("optimized-beats-common", "3",
     "The optimized light makes scratches clearly more visible than a common environment map.",
     _claim_better_than_common),
    ("rgb-drifts-gray", "3", "Optimizing in RGB drifts towards a gray light.", _claim_rgb_gray),
    ("gray-preferable", "3", "A gray light shows the scratches at least as well as an RGB one.",
     _claim_gray_preferable),
    ("no-l2-saturates", "4", "Without the L2 term the light goes to 1 and the render saturates.",
     _claim_no_l2_saturates),
    ("l2-env-equals-image", "4", "L2 on E gives the same visibility as L2 on I.",
     _claim_env_equals_image),
    ("l2-env-sparse", "4", "L2 on E makes the light sparse.", _claim_env_sparse),
    ("mask-focuses", "6", "The scratch-map mask focuses the improvement on the scratch region "
                          "(the paper adds: often without a large change).", _claim_mask_focuses),
    ("inits-converge-similar", "7", "Most initial states converge to similar maps.",
     _claim_inits_similar),
    ("specular-faster", "8", "The specular init converges faster and more stably.",
     _claim_specular_faster),
)
_VISIBILITY_RULE = ("visibility = fraction of planted defects seen (Weber contrast >= 2 %, "
                    f"margin {DETECTED_MARGIN:g}), ties broken by defect AUC (margin "
                    f"{AUC_MARGIN:g}) on synthetic surfaces; on real maps mean gradient and RMS "
                    f"contrast (margin {100 * RELATIVE_MARGIN:g} %), 'mixed' when they disagree")
CLAIM_RULES = {
    "optimized-beats-common": _VISIBILITY_RULE + "; agrees when the optimized gray light is "
                                                 "more visible",
    "rgb-drifts-gray": "colourfulness = sum over texels of std(R,G,B) / sum of mean(R,G,B); "
                       "agrees when it at least halves, partly when it falls",
    "gray-preferable": _VISIBILITY_RULE + "; agrees when gray is not less visible",
    "no-l2-saturates": "the texels the optimizer moved (by more than 0.02) average >= 0.8, and "
                       "the share of surface pixels at >= 90 % of their brightness under a "
                       "white light (E = 1) is at least 5 points above the L2-on-E run",
    "l2-env-equals-image": _VISIBILITY_RULE + "; agrees when about equal",
    "l2-env-sparse": f"at least half of the texels below {SPARSE_LEVEL}, and no fewer than with "
                     f"L2 on I",
    "mask-focuses": "ratio of the mean gradient inside the mask's region to that outside it, "
                    f"with vs without the mask (margin {100 * RELATIVE_MARGIN:g} %); not "
                    "testable when the mask covers the whole surface",
    "inits-converge-similar": "more than half of the pairs of maps at least halve their RMS "
                              "difference",
    "specular-faster": "iterations until the trailing mean loss is within 10 % of the best final "
                       "loss (fewest), and jitter (RMS of loss minus its moving average, over "
                       "the final loss; lowest, 10 % margin)",
}


def evaluate_claims(cases: list[dict], records: dict) -> list[dict]:
    """One entry per claim: the per-surface findings and an overall verdict."""
    out = []
    for cid, fig, text, rule in CLAIMS:
        per = []
        for case in cases:
            for f in rule(case, records.get(case["name"], {})):
                per.append({"surface": case["name"], **f})
        out.append({"id": cid, "figure": fig, "claim": text, "rule": CLAIM_RULES[cid],
                    "findings": per, "overall": _overall(per)})
    return out


def _overall(findings: list[dict]) -> str:
    """'agrees on 3 of 4 (partly: x; not testable: y)': the most common verdict over the
    tested findings (agrees first on ties), then the others by name."""
    def name(f):
        return f["surface"] + (f" ({f['values']['mask']})" if "mask" in f["values"] else "")

    tested = [f for f in findings if f["verdict"] != "not testable"]
    untested = ", ".join(name(f) for f in findings if f["verdict"] == "not testable")
    if not tested:
        return "not testable here" + (f" ({untested})" if untested else "")
    verdicts = [f["verdict"] for f in tested]
    top = max(("agrees", "partly", "differs"), key=verdicts.count)
    others = ([f"{f['verdict']}: {name(f)}" for f in tested if f["verdict"] != top]
              + ([f"not testable: {untested}"] if untested else []))
    return (f"{top} on {verdicts.count(top)} of {len(tested)}"
            + (f" ({'; '.join(others)})" if others else ""))


# --------------------------------------------------------------------------- figures

def _pyplot():
    from ..report.figures import pyplot

    return pyplot()


def _metric_line(rec: dict, when: str) -> str:
    m = rec[f"metrics_{when}"]
    parts = []
    if "auc" in m:
        parts.append(f"seen {_pct(m['detected_fraction'])}  AUC {_fmt(m['auc'], 3)}  "
                     f"CNR {_fmt(m['cnr'], 3)}")
    parts.append(f"grad {_fmt(m['mean_gradient'], 3)}  RMS {_fmt(m['rms_contrast'], 3)}  "
                 f"near white {_pct(m['near_white'])}")
    return "\n".join(parts)


def _grid_figure(path: Path, columns: list[dict], row_labels: list[str], title: str) -> None:
    """Columns of images (linear float renders are tone-mapped, uint8 shown as is), with a
    title per column and a label per row."""
    from ..io.images import tonemap

    plt = _pyplot()
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
        img = _read_map(folder / f"{when}.exr", 3)
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
        img = _read_map(out / recs[key]["folder"] / "after.exr", 3)
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


def _figures(out: Path, case: dict, recs: dict, arrays: dict) -> dict[str, str]:
    figs = {f: _panel_figure(out, case, recs, arrays, f) for f in FIGURE_PANELS}
    figs["7"] = _init_figure(out, case, recs, arrays)
    figs["8"] = _loss_figure(out, case, recs)
    return {k: v for k, v in figs.items() if v}


# --------------------------------------------------------------------------- writing

def _fmt(x, digits: int = 4) -> str:
    """A number for a table; 'n/a' for None or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def _finite(x):
    """JSON-safe copy: NaN and infinities become None, NumPy scalars plain numbers."""
    if isinstance(x, dict):
        return {str(k): _finite(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _run_rows(records: dict) -> list[list[str]]:
    """The runs table: the numbers of each run.json."""
    rows = []
    for surface, recs in records.items():
        for key, r in recs.items():
            b, a = r["objective_before"], r["objective_after"]
            rows.append([surface, key, r["folder"], _fmt(b["loss"], 6), _fmt(a["loss"], 6),
                         _fmt(b["l_grad"], 6), _fmt(a["l_grad"], 6), _fmt(r["seconds"], 3)])
    return rows


RUN_HEADER = ["surface", "experiment", "folder", "objective before", "objective after",
              "L_grad before", "L_grad after", "seconds"]
METRIC_COLUMNS = (("auc", "AUC"), ("cnr", "CNR"), ("detected_fraction", "detected"),
                  ("mean_gradient", "mean gradient"), ("rms_contrast", "RMS contrast"),
                  ("clipped_fraction", ">= 1"), ("near_white", "near white"),
                  ("black_fraction", "black"))
MAP_COLUMNS = (("mean", "mean"), ("sparsity", f"sparsity (< {SPARSE_LEVEL})"),
               ("at_one", "at 1"), ("colourfulness", "colourfulness"))


def _metric_rows(records: dict) -> list[list[str]]:
    rows = []
    for surface, recs in records.items():
        for key, r in recs.items():
            for when in ("before", "after"):
                m = r[f"metrics_{when}"]
                rows.append([surface, key, when] + [_fmt(m.get(k), 3) for k, _ in METRIC_COLUMNS])
    return rows


def _map_rows(records: dict) -> list[list[str]]:
    rows = []
    for surface, recs in records.items():
        for key, r in recs.items():
            rows.append([surface, key] + [_fmt(r["map_before"][k], 3) for k, _ in MAP_COLUMNS]
                        + [_fmt(r["map_after"][k], 3) for k, _ in MAP_COLUMNS])
    return rows


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _settings_line(res: dict) -> str:
    s = res["settings"]
    return (f"{s['mode']} mode: {s['resolution']} x {s['resolution']} images, {s['iterations']} "
            f"iterations at {s['spp']} spp, judged on {s['final_spp']} spp renders, "
            f"{s['envmap_size'][0]} x {s['envmap_size'][1]} light, engine {res['engine']}, "
            f"seed {res['seed']}; synthetic surfaces {s['size']} x {s['size']} points with "
            f"{s['scratches']} planted scratches; {res['run_seconds']:.0f} s of optimization "
            f"runs, {res['seconds']:.0f} s for this invocation")


def _claim_class(claim: dict) -> str:
    """'agree' when every tested surface agrees, 'differ' when every one differs,
    'not testable' when none could be tested, else 'partly' (partial or mixed)."""
    tested = {f["verdict"] for f in claim["findings"] if f["verdict"] != "not testable"}
    if not tested:
        return "not testable"
    if tested == {"agrees"}:
        return "agree"
    return "differ" if tested == {"differs"} else "partly"


def _tally(res: dict) -> str:
    """'N agree, M partly, K differ' over the claims."""
    classes = [_claim_class(c) for c in res["claims"]]
    parts = [f"{classes.count(k)} {k}" for k in ("agree", "partly", "differ", "not testable")
             if k in classes]
    return f"of {len(classes)} claims of the paper, " + ", ".join(parts)


def write_summary(path: Path, res: dict) -> None:
    """``summary.md``: findings, then the tables of numbers, then the figures."""
    md = ["# Reproducing the scratch-visibility paper", "", _settings_line(res), ""]
    for case in res["cases"]:
        md.append(f"- **{case['name']}** ({case['kind']}, {case['source']}): grid "
                  f"{case['grid'][1]} x {case['grid'][0]}, {case['surface_pixels']} surface pixels"
                  + (f", {case['truth_pixels']} defect pixels" if case["truth_pixels"] else "")
                  + f", exaggeration {case['exaggeration']:.3g}, scratch map covers "
                    f"{100 * case['scratch_coverage']:.0f} % of the surface")
    for note in res["notes"] + [n for c in res["cases"] for n in c["notes"]]:
        md.append(f"- note: {note}")
    md += ["", "## Findings", "", f"Overall: {_tally(res)}.", ""]
    for c in res["claims"]:
        md.append(f"**Figure {c['figure']}: {c['claim']}** Result: {c['overall']}. "
                  f"(Rule: {c['rule']}.)")
        md += [f"- {f['surface']}: {f['verdict']} - {f['evidence']}" for f in c["findings"]]
        md.append("")
    md += ["## Runs", "", _md_table(RUN_HEADER, _run_rows(res["records"])), "",
           "## Visibility metrics (high-spp renders)", "",
           _md_table(["surface", "experiment", "render"] + [h for _, h in METRIC_COLUMNS],
                     _metric_rows(res["records"])), "",
           "## Lights", "",
           _md_table(["surface", "experiment"] + [f"initial {h}" for _, h in MAP_COLUMNS]
                     + [f"final {h}" for _, h in MAP_COLUMNS], _map_rows(res["records"])), "",
           "## Figures", ""]
    for name, figs in res["figures"].items():
        md += [f"![figure {k}, {name}]({rel})" for k, rel in sorted(figs.items())] + [""]
    with atomic_path(str(path), suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(md) + "\n", encoding="utf-8")


def _verdict_html(v: str) -> str:
    from ..report.html import escape

    return f'<span class="{escape(v.replace(" ", "-"))}">{escape(v)}</span>'


def _findings_html(res: dict) -> str:
    from ..report.html import escape, table

    rows = []
    for c in res["claims"]:
        for f in c["findings"] or [{"surface": "-", "verdict": "not testable", "evidence": ""}]:
            rows.append([f"figure {c['figure']}", c["claim"], f["surface"],
                         ("raw", _verdict_html(f["verdict"])), f["evidence"]])
    overall = "".join(f"<li>Figure {escape(c['figure'])}: {escape(c['claim'])} "
                      f"<b>{escape(c['overall'])}</b>.<br><span class=\"note\">Rule: "
                      f"{escape(c['rule'])}.</span></li>" for c in res["claims"])
    return (f"<ul>{overall}</ul>"
            + table(["figure", "paper's claim", "surface", "ours", "evidence"], rows))


def _column_html(rec: dict, when: str, with_mask: bool) -> list:
    """Render, light and metrics of one panel entry, as table cells (top to bottom)."""
    from ..report.html import img

    folder = rec["folder"]
    light = f"{folder}/init.png" if when == "before" else f"{folder}/envmap.png"
    cells = [("raw", img(f"{folder}/{when}.png", f"{rec['experiment']} {when}", 192)),
             ("raw", img(light, "light", 192))]
    if with_mask:
        cells.append(("raw", img(f"{folder}/mask.png", "mask", 192)))
    m = rec[f"metrics_{when}"]
    cells += [_fmt(m.get(k), 3) for k, _ in METRIC_COLUMNS]
    stats = rec["map_before" if when == "before" else "map_after"]
    cells += [_fmt(stats[k], 3) for k, _ in MAP_COLUMNS]
    obj = rec[f"objective_{when}"]
    cells.append(_fmt(obj["loss"], 4))
    return cells


def _figure_table_html(recs: dict, fig: str) -> str:
    from ..report.html import table

    entries = [(label, key, when) for label, key, when in FIGURE_PANELS[fig] if key in recs]
    if not entries:
        return ""
    with_mask = fig == "6"
    labels = (["render", "light"] + (["objective mask"] if with_mask else [])
              + [h for _, h in METRIC_COLUMNS] + [f"light {h}" for _, h in MAP_COLUMNS]
              + ["objective (high spp)"])
    cols = [_column_html(recs[key], when, with_mask) for _, key, when in entries]
    rows = [[labels[i]] + [c[i] for c in cols] for i in range(len(labels))]
    return table([""] + [label for label, _, _ in entries], _drop_empty(rows))


def _drop_empty(rows: list[list]) -> list[list]:
    """Rows minus those whose every value is 'n/a' (truth metrics on real maps)."""
    return [r for r in rows if any(c != "n/a" for c in r[1:])]


def _init_table_html(recs: dict) -> str:
    from ..report.html import img, table

    keys = [(k, label) for k, label in INITS if k in recs]
    if not keys:
        return ""
    st = convergence_stats({label: recs[k]["loss"] for k, label in keys})
    rows = [["initial light"] + [("raw", img(f"{recs[k]['folder']}/init.png", "init", 192))
                                 for k, _ in keys],
            ["optimized light"] + [("raw", img(f"{recs[k]['folder']}/envmap.png", "light", 192))
                                   for k, _ in keys],
            ["render"] + [("raw", img(f"{recs[k]['folder']}/after.png", "after", 192))
                          for k, _ in keys]]
    rows += _drop_empty([[h] + [_fmt(recs[k]["metrics_after"].get(m), 3) for k, _ in keys]
                         for m, h in METRIC_COLUMNS])
    rows += [["light sparsity"] + [_fmt(recs[k]["map_after"]["sparsity"], 3) for k, _ in keys],
             ["loop loss: first"] + [_fmt(st[label]["start"], 4) for _, label in keys],
             ["loop loss: final"] + [_fmt(st[label]["final"], 4) for _, label in keys],
             ["iterations to converge"] + [_fmt(st[label]["iterations_to_converge"])
                                           for _, label in keys],
             ["jitter"] + [_fmt(st[label]["jitter"], 3) for _, label in keys]]
    return table([""] + [label for _, label in keys], rows)


def _surface_html(res: dict, case: dict) -> str:
    from ..report.html import img, paragraph, section

    recs = res["records"].get(case["name"], {})
    figs = res["figures"].get(case["name"], {})
    parts = [paragraph(f"{case['kind']} surface, {case['source']}; grid {case['grid'][1]} x "
                       f"{case['grid'][0]}; exaggeration {case['exaggeration']:.3g}; the scratch "
                       f"map covers {100 * case['scratch_coverage']:.0f} % of the surface. "
                       f"Under a white light (E = 1, the reference of 'near white'):"),
             img(f"{case['name']}/white.png", "white-light render", 192)]
    for fig in ("3", "4", "6"):
        body = _figure_table_html(recs, fig)
        if body:
            parts.append(section(FIGURE_TITLES[fig], body, level=3))
    parts.append(section(FIGURE_TITLES["7"] + " (and 8)", _init_table_html(recs),
                         img(figs["8"], "loss curves") if "8" in figs else "", level=3))
    panels = [img(figs[k], f"figure {k}") for k in ("3", "4", "6", "7") if k in figs]
    parts.append(section("Panels", *panels, level=3))
    return section(f"Surface: {case['name']}", *parts)


def write_report(path: Path, res: dict) -> None:
    """``report.html``: findings first, then every surface's figures with their metrics."""
    from ..report.html import bullet_list, paragraph, section, table, write_page

    notes = res["notes"] + [n for c in res["cases"] for n in c["notes"]]
    body = [paragraph(_settings_line(res)),
            paragraph("Every image is a separate high-spp render (not the optimization loop's "
                      "own), scored inside the object mask. With ground truth (synthetic "
                      "surfaces): defect AUC, CNR and the fraction of planted defects with "
                      "2 % Weber contrast; always: mean gradient (the objective's own term), "
                      "RMS local contrast, saturated and black pixel fractions.", "note")]
    if notes:
        body.append(bullet_list(notes))
    body.append(section("Where we agree with the paper, and where not",
                        paragraph(f"Overall: {_tally(res)}."), _findings_html(res)))
    for case in res["cases"]:
        body.append(_surface_html(res, case))
    body.append(section("All runs", table(RUN_HEADER, _run_rows(res["records"]))))
    write_page(path, "Reproducing the scratch-visibility paper", "\n".join(body))


def _write_results(path: Path, res: dict) -> None:
    with atomic_path(str(path), suffix=".json") as tmp:
        with open(tmp, "w") as f:
            json.dump(_finite({k: v for k, v in res.items()}), f, indent=1)
            f.write("\n")


# --------------------------------------------------------------------------- main

def reproduce(out_dir: str | os.PathLike, quick: bool = False, seed: int = 0, engine: str = "ad",
              data_dir: str | os.PathLike | None = None, device: str = "auto",
              fresh: bool = False, log: Callable[[str], None] = print) -> dict:
    """Run every experiment and write ``report.html``, ``summary.md`` and ``results.json``.

    Args:
        out_dir: results folder (created).
        quick: tiny sizes (one synthetic surface, no real maps), for tests.
        seed: seed of the synthetic surfaces and of every run.
        engine: 'ad' or 'transport'.
        data_dir: folder of the real maps (default :func:`default_data_dir`).
        device: 'auto', 'cpu' or 'cuda'.
        fresh: run everything again, even where a folder holds the same config.
        log: called with one progress line per experiment.

    Returns:
        The results dictionary saved as ``results.json``.
    """
    from ..io import write_exr
    from ..report.figures import write_envmap_preview

    if engine not in ("ad", "transport"):
        raise InputError("--engine", f"must be ad or transport, got {engine!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise InputError("--seed", f"must be a whole number >= 0, got {seed}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(str(out), "exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    settings = QUICK if quick else FULL
    t0 = time.perf_counter()
    notes: list[str] = []
    if quick:
        notes.append("quick mode: tiny images and a few iterations, a smoke test of the "
                     "pipeline; its verdicts are not a reproduction of the paper")
    studio = out / "studio.exr"
    write_exr(str(studio), studio_envmap())
    write_envmap_preview(str(out / "studio.png"), studio_envmap(), scale=3)
    data = Path(data_dir) if data_dir else default_data_dir()
    cases = _cases(out, settings, int(seed), data, notes)
    n_runs = sum(1 for c in cases for e in EXPERIMENTS
                 if c["kind"] == "synthetic" or not e.synthetic_only)
    counter = [0, n_runs]
    records, figures = {}, {}
    for case in cases:
        recs, arrays = _run_case(case, settings, int(seed), engine, device, str(studio.resolve()),
                                 out, fresh, counter, log)
        for key in recs:
            recs[key]["_arrays"] = arrays[key]
        records[case["name"]] = recs
        figures[case["name"]] = _figures(out, case, recs, arrays)
    claims = evaluate_claims(cases, records)
    res = {"settings": dataclasses.asdict(settings), "engine": engine, "seed": int(seed),
           "seconds": time.perf_counter() - t0, "notes": notes, "cases": cases,
           "run_seconds": sum(r["seconds"] or 0.0 for recs in records.values()
                              for r in recs.values()),
           "records": {s: {k: {kk: vv for kk, vv in r.items() if kk != "_arrays"}
                           for k, r in recs.items()} for s, recs in records.items()},
           "claims": claims, "figures": figures}
    write_summary(out / "summary.md", res)
    write_report(out / "report.html", res)
    _write_results(out / "results.json", res)
    log(f"wrote {out / 'report.html'}, {out / 'summary.md'} and {out / 'results.json'} "
        f"({res['seconds']:.0f} s)")
    return res

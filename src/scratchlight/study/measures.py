"""Numbers the claims are judged on, computed from arrays: how colourful, sparse or bright
a light is (:func:`map_stats`), how far apart maps are (:func:`pairwise_rms`), how fast and
smoothly loss curves converge (:func:`convergence_stats`), and image statistics inside a
mask (:func:`image_stats`, :func:`near_white_fraction`)."""
from __future__ import annotations

import numpy as np

__all__ = ["SPARSE_LEVEL", "colourfulness", "map_stats", "pairwise_rms", "convergence_stats",
           "image_stats", "near_white_fraction"]


# A texel counts as off (for sparsity) below this value; as full on at or above 1 - this.
SPARSE_LEVEL = 0.02


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


def image_stats(image: np.ndarray, mask: np.ndarray) -> dict[str, float]:
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

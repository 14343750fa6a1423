"""Quantitative visibility of scratches in a rendered image.

Pure functions of a linear image ``image`` (h, w, 3) float, or its luminance (h, w) (Rec. 709,
:func:`scratchlight.objectives.luminance`), plus (h, w) bool masks in image space:

- ``mask``: the pixels that show the surface (``scene.object_mask``); every metric looks
  only inside it.
- ``truth``: the pixels that show a planted or known defect
  (``scene.cell_mask_to_image(heightmap.truth)``).

With ground truth:

- :func:`defect_auc` — ROC area under the curve of the local gradient magnitude separating
  defect pixels from defect-free surface pixels: the probability that a random defect pixel
  has a larger local gradient than a random background pixel (ties count one half).
  1 = perfectly separated, 0.5 = no better than chance.
- :func:`defect_cnr` — contrast-to-noise ratio: (mean |local contrast| of defect pixels minus
  that of the background) over the standard deviation of the background's |local contrast|.
- :func:`detected_fraction` — the fraction of defects (8-connected components of ``truth``)
  whose Weber contrast against a ring of background around them reaches ``threshold``
  (default 2 %).

Background pixels are the surface pixels farther than ``guard`` pixels (chessboard
distance) from any defect pixel, so the blurred rim of a defect counts for neither side.

Without ground truth: :func:`mean_gradient` (the objective's masked mean of
``|dY/di| + |dY/dj|``), :func:`rms_contrast` (RMS local contrast relative to the mean
luminance), :func:`clipped_fraction` (a channel >= 1) and :func:`black_fraction`
(luminance below ``black_level``).

:func:`visibility_metrics` computes them all for one image; :func:`metrics_over_seeds`
gives their mean and standard error over renders with different seeds.
"""
from __future__ import annotations

import math

import numpy as np

from ..objectives import gradient_l1, luminance

__all__ = [
    "METRIC_NAMES", "average_ranks", "roc_auc", "contrast_to_noise", "gradient_magnitude", "local_contrast",
    "background_mask", "defect_auc", "defect_cnr", "weber_contrasts", "detected_fraction",
    "mean_gradient", "rms_contrast", "clipped_fraction", "black_fraction",
    "visibility_metrics", "metrics_over_seeds",
]

# Names of the metrics that :func:`visibility_metrics` returns (truth-dependent ones first).
METRIC_NAMES = ("auc", "cnr", "detected_fraction", "defects", "mean_gradient", "rms_contrast",
                "clipped_fraction", "black_fraction")

_EIGHT = np.ones((3, 3), bool)


def _mask(mask, shape, name="mask") -> np.ndarray:
    if mask is None:
        return np.ones(shape, bool)
    m = np.asarray(mask, bool)
    if m.shape != tuple(shape):
        raise ValueError(f"{name} shape {m.shape} does not match image {tuple(shape)}")
    return m


def average_ranks(values: np.ndarray) -> np.ndarray:
    """(n,) float64 ranks 1..n of the 1-d ``values``, tied values sharing the mean of their
    ranks (``scipy.stats.rankdata``'s 'average', without SciPy's 0.7 s import)."""
    x = np.asarray(values).ravel()
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], x.size]
    ranks = np.empty(x.size, np.float64)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def roc_auc(scores: np.ndarray, positive: np.ndarray, negative: np.ndarray | None = None) -> float:
    """Rank-based ROC AUC (Mann-Whitney U / (n_pos n_neg)) of ``scores``.

    Args:
        scores: float array of any shape.
        positive: bool array like ``scores``, the positive samples.
        negative: bool array like ``scores``, the negative samples (default: not positive).

    Returns:
        P(score of a random positive > score of a random negative) + P(equal) / 2, in [0, 1];
        NaN when either set is empty.
    """
    s = np.asarray(scores, np.float64)
    pos = np.asarray(positive, bool)
    neg = ~pos if negative is None else np.asarray(negative, bool) & ~pos
    a, b = s[pos], s[neg]
    n1, n0 = a.size, b.size
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = average_ranks(np.concatenate([a, b]))  # ties count one half
    u = ranks[:n1].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))


def contrast_to_noise(values: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """(mean of ``values`` on ``positive`` - mean on ``negative``) / std on ``negative``.

    The standard deviation is the population one (ddof = 0). Returns NaN when a set is
    empty or when both the difference and the std are 0, +-inf when only the std is 0.
    """
    v = np.asarray(values, np.float64)
    a, b = v[np.asarray(positive, bool)], v[np.asarray(negative, bool)]
    if a.size == 0 or b.size == 0:
        return float("nan")
    diff, sd = float(a.mean() - b.mean()), float(b.std())
    if sd > 0:
        return diff / sd
    return float("nan") if diff == 0 else math.copysign(math.inf, diff)


def _masked_blur(values: np.ndarray, m: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian average of ``values`` over the pixels of ``m`` only (normalised convolution)."""
    from scipy import ndimage  # here, not at the top: SciPy costs every command's start
    w = ndimage.gaussian_filter(m.astype(np.float64), sigma, mode="constant")
    s = ndimage.gaussian_filter(np.where(m, values, 0.0), sigma, mode="constant")
    return np.where(w > 1e-12, s / np.maximum(w, 1e-12), 0.0)


def gradient_magnitude(image: np.ndarray, mask: np.ndarray | None = None,
                       sigma: float = 1.0) -> np.ndarray:
    """Local gradient magnitude (h, w) of the luminance Y.

    Per pixel ``|Y[i+1,j] - Y[i,j]| + |Y[i,j+1] - Y[i,j]|`` (the objective's term; 0 in the
    last row and column), then, for ``sigma > 0``, averaged with a Gaussian of ``sigma``
    pixels over the pixels of ``mask`` only, so the object's silhouette does not leak in.
    """
    Y = luminance(image)
    m = _mask(mask, Y.shape)
    g = np.zeros_like(Y)
    g[:-1] += np.abs(Y[1:] - Y[:-1])
    g[:, :-1] += np.abs(Y[:, 1:] - Y[:, :-1])
    return _masked_blur(g, m, sigma) if sigma > 0 else g


def local_contrast(image: np.ndarray, mask: np.ndarray | None = None,
                   sigma: float = 3.0) -> np.ndarray:
    """Y minus its local mean (h, w): the Gaussian average (``sigma`` pixels) of the
    luminance over the pixels of ``mask`` only. Linear luminance units."""
    Y = luminance(image)
    m = _mask(mask, Y.shape)
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    return Y - _masked_blur(Y, m, sigma)


def background_mask(truth: np.ndarray, mask: np.ndarray, guard: int = 2) -> np.ndarray:
    """Surface pixels (``mask``) farther than ``guard`` pixels (chessboard) from ``truth``."""
    from scipy import ndimage

    truth = np.asarray(truth, bool)
    near = ndimage.binary_dilation(truth, _EIGHT, iterations=guard) if guard > 0 else truth
    return np.asarray(mask, bool) & ~near


def defect_auc(image: np.ndarray, truth: np.ndarray, mask: np.ndarray, sigma: float = 1.0,
               guard: int = 2) -> float:
    """ROC AUC of :func:`gradient_magnitude` for defect pixels (``truth & mask``) against
    background pixels (:func:`background_mask`). NaN when either set is empty."""
    Y = luminance(image)
    m, t = _mask(mask, Y.shape), _mask(truth, Y.shape, "truth")
    g = gradient_magnitude(Y, m, sigma)
    return roc_auc(g, t & m, background_mask(t, m, guard))


def defect_cnr(image: np.ndarray, truth: np.ndarray, mask: np.ndarray, sigma: float = 3.0,
               guard: int = 2) -> float:
    """Contrast-to-noise ratio of the defects: :func:`contrast_to_noise` of
    ``|local_contrast|`` on defect pixels against background pixels."""
    Y = luminance(image)
    m, t = _mask(mask, Y.shape), _mask(truth, Y.shape, "truth")
    c = np.abs(local_contrast(Y, m, sigma))
    return contrast_to_noise(c, t & m, background_mask(t, m, guard))


def weber_contrasts(image: np.ndarray, truth: np.ndarray, mask: np.ndarray, guard: int = 2,
                    ring: int = 4, min_pixels: int = 5, eps: float = 1e-6) -> np.ndarray:
    """Weber contrast of every defect against the background ring around it.

    Defects are the 8-connected components of ``truth & mask`` with at least ``min_pixels``
    pixels. A defect's ring is the background (:func:`background_mask` with ``guard``) within
    ``guard + ring`` pixels (chessboard) of it. Weber contrast = (mean Y of the defect -
    mean Y of its ring) / mean Y of its ring; +-inf when the ring is black (mean below
    ``eps``) but the defect is not, 0 when both are black, NaN when the ring is empty.

    Returns:
        (n_defects,) float64 signed contrasts, in the order of ``scipy.ndimage.label``.
    """
    from scipy import ndimage

    Y = luminance(image)
    m, t = _mask(mask, Y.shape), _mask(truth, Y.shape, "truth")
    bg = background_mask(t, m, guard)
    labels, n = ndimage.label(t & m, structure=_EIGHT)
    out = []
    reach = guard + ring
    for k, sl in enumerate(ndimage.find_objects(labels), start=1):
        if sl is None:
            continue
        box = tuple(slice(max(0, s.start - reach), s.stop + reach) for s in sl)
        comp = labels[box] == k
        if comp.sum() < min_pixels:
            continue
        around = ndimage.binary_dilation(comp, _EIGHT, iterations=reach) & bg[box]
        yd = float(Y[box][comp].mean())
        if not around.any():
            out.append(float("nan"))
            continue
        yb = float(Y[box][around].mean())
        if yb > eps:
            out.append((yd - yb) / yb)
        else:
            out.append(0.0 if abs(yd - yb) <= eps else math.copysign(math.inf, yd - yb))
    return np.asarray(out, np.float64)


def detected_fraction(image: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                      threshold: float = 0.02, guard: int = 2, ring: int = 4,
                      min_pixels: int = 5) -> float:
    """Fraction of defects whose |Weber contrast| (:func:`weber_contrasts`) is at least
    ``threshold`` (a defect with an empty ring counts as not seen); NaN without defects."""
    w = weber_contrasts(image, truth, mask, guard, ring, min_pixels)
    if w.size == 0:
        return float("nan")
    return float(np.mean(np.nan_to_num(np.abs(w), nan=0.0) >= threshold))


def mean_gradient(image: np.ndarray, mask: np.ndarray) -> float:
    """sum_ij M_ij (|Y[i+1,j]-Y[i,j]| + |Y[i,j+1]-Y[i,j]|) / sum_ij M_ij, as in the objective
    (``ObjectiveValue.mean_gradient``)."""
    Y = luminance(image)
    m = _mask(mask, Y.shape)
    S, _ = gradient_l1(Y, m)
    return S / float(m.sum())


def rms_contrast(image: np.ndarray, mask: np.ndarray, sigma: float = 3.0) -> float:
    """RMS of :func:`local_contrast` over ``mask``, divided by the mean luminance there
    (dimensionless; NaN for a black image)."""
    Y = luminance(image)
    m = _mask(mask, Y.shape)
    if not m.any():
        raise ValueError("the mask selects no pixel")
    c = local_contrast(Y, m, sigma)[m]
    mean = float(Y[m].mean())
    return float(np.sqrt(np.mean(c * c)) / mean) if mean > 0 else float("nan")


def clipped_fraction(image: np.ndarray, mask: np.ndarray, level: float = 1.0) -> float:
    """Fraction of ``mask`` pixels with some channel >= ``level`` (for an (h, w) luminance
    image: Y >= ``level``)."""
    a = np.asarray(image, np.float64)
    peak = a if a.ndim == 2 else a[..., :3].max(axis=2)
    m = _mask(mask, peak.shape)
    return float(np.mean(peak[m] >= level)) if m.any() else float("nan")


def black_fraction(image: np.ndarray, mask: np.ndarray, black_level: float = 1e-3) -> float:
    """Fraction of ``mask`` pixels whose luminance is below ``black_level`` (linear)."""
    Y = luminance(image)
    m = _mask(mask, Y.shape)
    return float(np.mean(Y[m] < black_level)) if m.any() else float("nan")


def visibility_metrics(image: np.ndarray, mask: np.ndarray, truth: np.ndarray | None = None, *,
                       sigma_gradient: float = 1.0, sigma_contrast: float = 3.0, guard: int = 2,
                       ring: int = 4, min_pixels: int = 5, threshold: float = 0.02,
                       black_level: float = 1e-3) -> dict[str, float]:
    """Every metric of this module for one image, as ``{name: value}`` (``METRIC_NAMES``).

    Without ``truth`` the truth-dependent entries (auc, cnr, detected_fraction, defects) are
    left out.
    """
    a = np.asarray(image, np.float64)
    Y = luminance(a)
    m = _mask(mask, Y.shape)
    out: dict[str, float] = {}
    if truth is not None:
        t = _mask(truth, Y.shape, "truth")
        out["auc"] = defect_auc(Y, t, m, sigma_gradient, guard)
        out["cnr"] = defect_cnr(Y, t, m, sigma_contrast, guard)
        w = weber_contrasts(Y, t, m, guard, ring, min_pixels)
        out["detected_fraction"] = (float(np.mean(np.nan_to_num(np.abs(w), nan=0.0) >= threshold))
                                    if w.size else float("nan"))
        out["defects"] = float(w.size)
    out["mean_gradient"] = mean_gradient(Y, m)
    out["rms_contrast"] = rms_contrast(Y, m, sigma_contrast)
    out["clipped_fraction"] = clipped_fraction(a, m)
    out["black_fraction"] = black_fraction(Y, m, black_level)
    return out


def metrics_over_seeds(images, mask: np.ndarray, truth: np.ndarray | None = None,
                       **options) -> dict[str, dict]:
    """Mean and standard error of each metric over renders with different seeds.

    Args:
        images: sequence of linear images (h, w, 3) (or luminance (h, w)) of the same scene
            and light, rendered with different seeds.
        mask, truth, options: as for :func:`visibility_metrics`.

    Returns:
        ``{name: {"mean": m, "stderr": s, "values": [per image]}}`` where ``s`` is the sample
        standard deviation over ``sqrt(n)`` (NaN for a single image).
    """
    images = list(images)
    if not images:
        raise ValueError("need at least one image")
    per = [visibility_metrics(im, mask, truth, **options) for im in images]
    out = {}
    for name in per[0]:
        v = np.array([p[name] for p in per], np.float64)
        n = v.size
        out[name] = {
            "mean": float(v.mean()),
            "stderr": float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
            "values": [float(x) for x in v],
        }
    return out

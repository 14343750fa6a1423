"""Task-based detectability: how well a model observer tells "defect present" from "absent".

The standard of image-quality science (Barrett & Myers, *Foundations of Image Science*,
2004, ch. 13-14; ICRU Report 54, 1996): an observer computes a scalar test statistic
t = w . g from an image region g and decides "defect present" when t exceeds a threshold.
Its detectability index is

    d' = (<t>_present - <t>_absent) / sqrt(var t)

(for Gaussian statistics, AUC = Phi(d' / sqrt 2)). With the defect's mean signal
s = <g>_present - <g>_absent and the covariance K of the defect-free regions g:

- **non-prewhitening matched filter (NPW)**, w = s:  d' = s.s / sqrt(s^T K s);
- **channelized Hotelling observer (CHO)**: the region is reduced to a few channel outputs
  v = U g (here Laguerre-Gauss channels, rotationally symmetric, Gallas & Barrett 2003),
  and the ideal linear observer on them has d'^2 = s_v^T K_v^-1 s_v with s_v = U s and
  K_v = cov(v).

On a rendered surface: the same surface is rendered with and without its planted defects
(synthetic defects only remove material, from random streams of their own, so the twin is
the same surface without them), under the same light and the same seeds. The signal s of a
window is the mean of (with - without) over the seeds, in luminance. The "absent" ensemble
is every window of the defect-free renders that lies on the surface and away from the
defects: it holds the Monte Carlo noise *and* the machining texture (feed marks, grains)
the defect must be told apart from - the observer knows the signal, not the background
(background known statistically). A defect longer than a window is covered by several
windows, whose evidence adds as independent looks: d'_defect = sqrt(sum d'_window^2).
The observer sees the image as a display shows it (``display=True``, the default): the
luminance clipped at 1 (display white), sRGB-encoded and quantized to 8 bits, in code
values / 255, with an internal noise of half a code value (sigma_int = 0.5 / 255) added to
every pixel's variance (observer internal noise, Burgess & Colborne, JOSA A 5, 1988). A
light that leaves the surface black cannot score: signals below a code value vanish, and
no background is so quiet that any difference becomes certain. ``display=False`` gives
the ideal observer on the linear radiance instead.

The signal is estimated from the renders, so its own Monte Carlo noise would add to s.s;
the seeds are split in two halves whose independent estimates s_a, s_b enter the
numerators as s_a.s_b (NPW) and s_a,v^T K_v^-1 s_b,v (CHO), unbiased for s.s and
s_v^T K_v^-1 s_v.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, special

from ..objectives import luminance

__all__ = ["laguerre_gauss_channels", "npw_dprime", "cho_dprime", "defect_windows",
           "background_windows", "display_values", "detectability", "INTERNAL_NOISE"]

_EIGHT = np.ones((3, 3), bool)
INTERNAL_NOISE = 0.5 / 255  # observer internal noise, in display code values / 255


def display_values(image: np.ndarray) -> np.ndarray:
    """(h, w) what a display shows of a linear image (h, w, 3) or luminance (h, w): the
    luminance clipped to [0, 1], sRGB-encoded, quantized to 8 bits, as code values / 255."""
    from ..io.images import linear_to_srgb

    Y = luminance(image) if np.ndim(image) == 3 else np.asarray(image, np.float64)
    return np.round(linear_to_srgb(np.clip(Y, 0.0, 1.0)) * 255.0) / 255.0


def laguerre_gauss_channels(size: int, width: float, count: int = 5) -> np.ndarray:
    """(count, size * size) Laguerre-Gauss channel profiles centred in a size x size window.

    u_p(r) = sqrt(2) / a * exp(-pi r^2 / a^2) * L_p(2 pi r^2 / a^2), p = 0 .. count-1,
    with r in pixels from the window centre and a = ``width`` (pixels).
    """
    if size < 3 or width <= 0 or count < 1:
        raise ValueError(f"need size >= 3, width > 0, count >= 1; got {size}, {width}, {count}")
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size]
    r2 = (yy - c) ** 2 + (xx - c) ** 2
    x = 2.0 * math.pi * r2 / width ** 2
    gauss = math.sqrt(2.0) / width * np.exp(-x / 2.0)
    return np.stack([(gauss * special.eval_laguerre(p, x)).ravel() for p in range(count)])


def npw_dprime(signal: np.ndarray, background: np.ndarray,
               independent: np.ndarray | None = None, internal_noise: float = 0.0) -> float:
    """d' of the non-prewhitening matched filter.

    Args:
        signal: (d,) mean signal s of one window, flattened.
        background: (m, d) defect-free windows (m samples of the "absent" class).
        independent: a second estimate of s from independent renders; the numerator is
            then s1.s2, whose expectation is s.s (s.s of one noisy estimate is biased up by
            its noise variance).
        internal_noise: sigma of white observer noise added to every pixel.
    Returns (s.s) / sqrt(var(background @ s) + internal_noise^2 s.s), clipped at 0; 0 for a
    zero signal.
    """
    s = np.asarray(signal, np.float64)
    b = np.asarray(background, np.float64)
    ss = float(s @ (s if independent is None else np.asarray(independent, np.float64)))
    if ss <= 0.0:
        return 0.0
    sd = math.sqrt(float(np.var(b @ s, ddof=1)) + internal_noise ** 2 * float(s @ s))
    return ss / sd if sd > 0 else math.inf


def cho_dprime(signal: np.ndarray, background: np.ndarray, channels: np.ndarray,
               independent: np.ndarray | None = None, internal_noise: float = 0.0,
               eps: float = 1e-12) -> float:
    """d' of the channelized Hotelling observer: sqrt(s_v^T K_v^-1 s_v).

    Args:
        signal: (d,) mean signal of one window; background: (m, d) defect-free windows.
        channels: (c, d) channel profiles U (m should be several times c).
        independent: a second, independent estimate of the signal (as for
            :func:`npw_dprime`): d'^2 = s1_v^T K_v^-1 s2_v, clipped at 0.
        internal_noise: sigma of white observer noise per pixel (adds sigma^2 U U^T to K_v).
        eps: relative ridge on K_v, so a channel without background variance cannot make
            the inverse blow up.
    """
    U = np.asarray(channels, np.float64)
    sv = U @ np.asarray(signal, np.float64)
    sv2 = sv if independent is None else U @ np.asarray(independent, np.float64)
    v = np.asarray(background, np.float64) @ U.T
    K = np.atleast_2d(np.cov(v, rowvar=False)) + internal_noise ** 2 * (U @ U.T)
    K = K + eps * max(float(np.trace(K)) / len(K), 1e-300) * np.eye(len(K))
    return float(math.sqrt(max(float(sv2 @ np.linalg.solve(K, sv)), 0.0)))


def _window_slices(centre: tuple[int, int], size: int, shape) -> tuple[slice, slice]:
    """The size x size window around ``centre``, shifted inside the image at its edges."""
    i0 = min(max(centre[0] - size // 2, 0), shape[0] - size)
    j0 = min(max(centre[1] - size // 2, 0), shape[1] - size)
    return slice(i0, i0 + size), slice(j0, j0 + size)


def defect_windows(truth: np.ndarray, size: int) -> list[list[tuple[int, int]]]:
    """Window centres covering each defect (8-connected component of ``truth``): its pixels
    taken in raster order, a pixel becoming a centre when no centre of the same defect lies
    closer than ``size`` (chessboard distance), then each centre moved to the centroid of
    the pixels it covers. Returns one list of (row, col) per defect."""
    labels, n = ndimage.label(np.asarray(truth, bool), structure=_EIGHT)
    out = []
    for k in range(1, n + 1):
        pix = np.argwhere(labels == k)
        centres: list[tuple[int, int]] = []
        for i, j in pix:
            if all(max(abs(i - a), abs(j - b)) >= size for a, b in centres):
                centres.append((int(i), int(j)))
        # one Lloyd step: each window moves to the centroid of the defect pixels nearest to
        # it, so a compact defect sits in the middle of its window
        c = np.asarray(centres, np.float64)
        nearest = np.argmin(np.abs(pix[:, None, :] - c[None]).max(axis=2), axis=1)
        out.append([tuple(int(v) for v in np.rint(pix[nearest == m].mean(axis=0)))
                    for m in range(len(c))])
    return out


def background_windows(images: list[np.ndarray], usable: np.ndarray, size: int,
                       stride: int | None = None) -> np.ndarray:
    """(m, size * size) luminance windows of ``images`` (each (h, w) or (h, w, 3)) at every
    ``stride`` whose pixels all lie in ``usable``."""
    stride = stride or max(1, size // 2)
    usable = np.asarray(usable, bool)
    h, w = usable.shape
    corners = [(i, j) for i in range(0, h - size + 1, stride) for j in range(0, w - size + 1, stride)
               if usable[i:i + size, j:j + size].all()]
    rows = []
    for img in images:
        Y = luminance(img) if np.ndim(img) == 3 else np.asarray(img, np.float64)
        rows.extend(Y[i:i + size, j:j + size].ravel() for i, j in corners)
    return np.asarray(rows, np.float64).reshape(len(rows), size * size)


def detectability(images_with, images_without, truth: np.ndarray, mask: np.ndarray,
                  window: int = 16, guard: int = 3, channels: int = 5,
                  channel_width: float | None = None, min_background: int = 30,
                  display: bool = True) -> dict:
    """d' of the NPW and CHO observers for every defect, and overall.

    Args:
        images_with, images_without: renders (h, w, 3) linear (or luminance (h, w)) of the
            surface with and without its defects, the k-th of each with the same seed and
            light; at least 2 of each.
        truth: (h, w) bool defect pixels; mask: (h, w) bool surface pixels.
        window: side of the square observer window, pixels.
        guard: background windows keep this many pixels (chessboard) away from defects.
        channels, channel_width: Laguerre-Gauss channels (width a, default window / 3).
        min_background: fewest background windows for a covariance estimate.
        display: the observer sees 8-bit sRGB display values with internal noise (module
            docstring); False: the linear luminance, no internal noise.

    Returns ``{"npw": {"overall", "stderr", "min", "per_defect"}, "cho": {...}, "defects",
    "windows", "background_windows", "note"}``; the d' values are None (with a ``note``) when
    there are no visible defects or too few background windows. ``stderr`` is the
    jackknife standard error of ``overall`` over the seeds: with n >= 3 pairs of renders,
    sqrt((n - 1) / n * sum_i (d'_(-i) - mean_i d'_(-i))^2), d'_(-i) computed without the
    i-th pair (None with fewer than 3 pairs).
    """
    view = display_values if display else (
        lambda i: luminance(i) if np.ndim(i) == 3 else np.asarray(i, np.float64))
    Yw, Yo = [view(i) for i in images_with], [view(i) for i in images_without]
    sigma_int = INTERNAL_NOISE if display else 0.0
    if len(Yw) != len(Yo) or len(Yw) < 2:
        raise ValueError("need the same number (>= 2) of renders with and without the defects")
    options = dict(truth=truth, mask=mask, window=window, guard=guard, channels=channels,
                   channel_width=channel_width, min_background=min_background,
                   sigma_int=sigma_int)
    result = _dprimes(Yw, Yo, **options)
    result["observer_sees"] = ("display (8-bit sRGB, internal noise)" if display
                               else "linear luminance")
    n = len(Yw)
    for k in ("npw", "cho"):
        result[k]["stderr"] = None
    if n >= 3 and result["npw"]["overall"] is not None:
        leave_out = [_dprimes(Yw[:i] + Yw[i + 1:], Yo[:i] + Yo[i + 1:], **options)
                     for i in range(n)]
        for k in ("npw", "cho"):
            d = np.array([np.nan if r[k]["overall"] is None else r[k]["overall"]
                          for r in leave_out], np.float64)
            # a leave-one-out d' that is undefined or infinite has no finite spread: None
            result[k]["stderr"] = (float(np.sqrt((n - 1) / n * np.sum((d - d.mean()) ** 2)))
                                   if np.all(np.isfinite(d)) else None)
    return result


def _dprimes(Yw: list, Yo: list, truth, mask, window, guard, channels, channel_width,
             min_background, sigma_int) -> dict:
    """:func:`detectability` of renders already seen by the observer (display values or
    luminance), without the standard error."""
    mask = np.asarray(mask, bool)
    truth = np.asarray(truth, bool) & mask
    near = ndimage.binary_dilation(truth, structure=_EIGHT, iterations=guard) if truth.any() else truth
    bg = background_windows(Yo, mask & ~near, window)
    empty = {"overall": None, "min": None, "per_defect": []}
    result = {"npw": dict(empty), "cho": dict(empty), "defects": 0, "windows": 0,
              "background_windows": int(len(bg)), "window_px": window, "note": ""}
    centres = defect_windows(truth, window)
    result["defects"] = len(centres)
    if not centres:
        result["note"] = "no defect pixel is visible in the image"
        return result
    if len(bg) < max(min_background, 3 * channels):
        result["note"] = (f"only {len(bg)} defect-free {window} x {window} windows on the surface "
                          f"(need {max(min_background, 3 * channels)}); use a larger image or "
                          "a smaller window")
        return result
    diff = (np.stack(Yw) - np.stack(Yo)) * mask
    signal = diff.mean(axis=0)
    # two halves of the seeds give independent signal estimates, so that Monte Carlo noise
    # in the estimated signal does not count as signal
    half_a, half_b = diff[0::2].mean(axis=0), diff[1::2].mean(axis=0)
    U = laguerre_gauss_channels(window, channel_width or window / 3.0, channels)
    per = {"npw": [], "cho": []}
    n_windows = 0
    for cs in centres:
        acc = {"npw": 0.0, "cho": 0.0}
        for c in cs:
            sl = _window_slices(c, window, mask.shape)
            s, sa, sb = signal[sl].ravel(), half_a[sl].ravel(), half_b[sl].ravel()
            n_windows += 1
            # template s (all seeds); numerator s_a.s_b from the independent halves
            d_npw = npw_dprime(s, bg, internal_noise=sigma_int)
            ss = float(s @ s)
            acc["npw"] += (d_npw * max(float(sa @ sb), 0.0) / ss) ** 2 if ss > 0 else 0.0
            acc["cho"] += cho_dprime(sa, bg, U, independent=sb, internal_noise=sigma_int) ** 2
        for k in per:
            per[k].append(math.sqrt(acc[k]))
    result["windows"] = n_windows
    for k, vals in per.items():
        result[k] = {"overall": float(np.mean(vals)), "min": float(np.min(vals)),
                     "per_defect": [float(v) for v in vals]}
    return result

"""Perceived defect contrast: the image as shown on a display and seen by an eye.

Assumptions, all parameters with these defaults:

- the render is shown with display luminance L = b + (1 - b) clip(Y, 0, 1) relative to
  display white, with the linear luminance Y of the render and the display's black level
  ``black_level`` b (0.01: the light a display shows at code 0 and reflects from a lit
  room, a 100:1 effective contrast ratio); the eye adapts to the mean luminance of the
  surface. Without b every contrast would be a ratio of two arbitrarily small luminances,
  and an image a display shows as black would have the contrasts of a bright one;
- the display has a pixel pitch of ``pixel_pitch_m`` (0.25 mm, about 100 dpi) and is seen
  from ``viewing_distance_m`` (0.5 m), so one degree of visual angle spans
  ``pixels_per_degree = D tan(1 deg) / pitch`` pixels (35 with the defaults);
- the eye weights contrast by the achromatic contrast sensitivity function of Mannos &
  Sakrison (IEEE Trans. Inf. Theory 20, 1974), A(f) = 2.6 (0.0192 + 0.114 f)
  exp(-(0.114 f)^1.1) with f in cycles per degree, scaled to 1 at its peak (8 cycles/deg),
  isotropic; the peak contrast sensitivity is ``peak_sensitivity`` (100: a contrast of 1 %
  at the best frequency is just visible), so a perceived contrast c is c x 100 just
  noticeable differences (JND).

The contrast image C = L / mean(L) - 1 over the surface (0 elsewhere) is filtered by A in
the Fourier domain (zero-padded); a defect's perceived contrast is the Weber contrast of the
filtered luminance mean(L) (1 + A * C) on the defect against the ring of background around
it (as :func:`~scratchlight.report.metrics.weber_contrasts`). Defects finer than the eye
resolves at that distance, or washed out by the surround, lose contrast here but not in the
raw Weber contrast.
"""
from __future__ import annotations

import math

import numpy as np

from ..objectives import luminance
from .metrics import weber_contrasts

__all__ = ["csf_mannos_sakrison", "pixels_per_degree", "display_luminance",
           "csf_filtered_contrast", "perceived_contrasts", "perceived_metrics", "BLACK_LEVEL"]

_PEAK_CPD = 8.0
BLACK_LEVEL = 0.01
"""Display black level relative to white (a 100:1 effective contrast ratio in a lit room)."""


def display_luminance(image: np.ndarray, black_level: float = BLACK_LEVEL) -> np.ndarray:
    """(h, w) luminance a display shows for the linear image (h, w, 3) or luminance (h, w),
    relative to its white: ``black_level + (1 - black_level) * clip(Y, 0, 1)``."""
    if not 0.0 <= black_level < 1.0:
        raise ValueError(f"black_level must be in [0, 1), got {black_level}")
    Y = np.clip(luminance(image) if np.ndim(image) == 3 else np.asarray(image, np.float64), 0, 1)
    return black_level + (1.0 - black_level) * Y


def csf_mannos_sakrison(f_cpd: np.ndarray) -> np.ndarray:
    """The Mannos-Sakrison CSF at spatial frequencies ``f_cpd`` (cycles/degree), scaled to
    a peak of 1; 0 cycles/degree (the mean) passes with gain 1 too, since the eye adapts to
    the mean luminance rather than suppressing it."""
    f = np.asarray(f_cpd, np.float64)

    def a(x):
        return 2.6 * (0.0192 + 0.114 * x) * np.exp(-(0.114 * x) ** 1.1)

    peak = float(a(_PEAK_CPD))
    return np.where(f == 0, 1.0, a(f) / peak)


def pixels_per_degree(viewing_distance_m: float = 0.5, pixel_pitch_m: float = 0.25e-3) -> float:
    """Display pixels per degree of visual angle."""
    if viewing_distance_m <= 0 or pixel_pitch_m <= 0:
        raise ValueError("viewing distance and pixel pitch must be positive")
    return viewing_distance_m * math.tan(math.radians(1.0)) / pixel_pitch_m


def csf_filtered_contrast(image: np.ndarray, mask: np.ndarray, ppd: float,
                          black_level: float = BLACK_LEVEL) -> tuple[np.ndarray, float]:
    """(CSF-weighted contrast image (h, w), adapting luminance relative to display white) of
    a linear image (h, w, 3) or luminance (h, w) on the surface ``mask`` at ``ppd`` pixels
    per degree, shown on a display of ``black_level``."""
    Y = display_luminance(image, black_level)
    m = np.asarray(mask, bool)
    mean = float(Y[m].mean()) if m.any() else 0.0
    if mean <= 0:
        return np.zeros_like(Y), mean
    C = np.where(m, Y / mean - 1.0, 0.0)
    h, w = C.shape
    H, W = 2 * h, 2 * w  # zero padding: no wrap-around between opposite edges
    fy = np.fft.fftfreq(H)[:, None] * ppd
    fx = np.fft.rfftfreq(W)[None, :] * ppd
    gain = csf_mannos_sakrison(np.hypot(fy, fx))
    out = np.fft.irfft2(np.fft.rfft2(C, s=(H, W)) * gain, s=(H, W))[:h, :w]
    return out, mean


def perceived_contrasts(image: np.ndarray, truth: np.ndarray, mask: np.ndarray,
                        viewing_distance_m: float = 0.5, pixel_pitch_m: float = 0.25e-3,
                        guard: int = 2, ring: int = 4, min_pixels: int = 5,
                        black_level: float = BLACK_LEVEL) -> np.ndarray:
    """(n_defects,) CSF-weighted Weber contrast of each defect against its ring."""
    Cf, mean = csf_filtered_contrast(image, mask, pixels_per_degree(viewing_distance_m, pixel_pitch_m),
                                     black_level)
    perceived = mean * (1.0 + Cf)
    return weber_contrasts(perceived, truth, mask, guard, ring, min_pixels)


def perceived_metrics(image: np.ndarray, mask: np.ndarray, truth: np.ndarray | None = None,
                      viewing_distance_m: float = 0.5, pixel_pitch_m: float = 0.25e-3,
                      peak_sensitivity: float = 100.0, guard: int = 2, ring: int = 4,
                      min_pixels: int = 5, black_level: float = BLACK_LEVEL) -> dict[str, float]:
    """``perceived_rms_contrast`` (RMS of the CSF-weighted contrast on the surface) and,
    with ``truth``, ``perceived_contrast`` (mean |CSF-weighted Weber contrast| of the
    defects) and ``perceived_visible_fraction`` (defects at >= 1 JND, i.e. contrast >=
    1 / ``peak_sensitivity``), all on a display of ``black_level`` (an image it shows as
    black has no visible defect)."""
    m = np.asarray(mask, bool)
    ppd = pixels_per_degree(viewing_distance_m, pixel_pitch_m)
    Cf, _ = csf_filtered_contrast(image, m, ppd, black_level)
    out = {"perceived_rms_contrast": float(np.sqrt(np.mean(Cf[m] ** 2))) if m.any() else float("nan")}
    if truth is not None:
        c = perceived_contrasts(image, truth, m, viewing_distance_m, pixel_pitch_m, guard, ring,
                                min_pixels, black_level)
        c = np.nan_to_num(np.abs(c), nan=0.0, posinf=np.inf)
        out["perceived_contrast"] = float(np.mean(c)) if c.size else float("nan")
        out["perceived_visible_fraction"] = (float(np.mean(c * peak_sensitivity >= 1.0))
                                             if c.size else float("nan"))
    return out

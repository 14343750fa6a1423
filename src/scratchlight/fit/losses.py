"""Image losses of the fit, per pixel, with their gradients dL/dI.

Method. Per pixel j of the n pixels of all views and its 3 channels c, with render I and
target T (linear RGB):

    l2:      L = 1/(3n) sum_jc (I_jc - T_jc)^2
    rel-l2:  L = 1/(3n) sum_jc (I_jc - T_jc)^2 / (T_jc^2 + REL_EPS)

Both are sums of per-pixel terms, so dL/dI_j depends on pixel j only and a subset of pixels
(weighted by 1/(K p_j), ``fit.sampling``) estimates the loss and its gradient without bias.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["LOSSES", "REL_EPS", "image_loss"]

LOSSES = ("l2", "rel-l2")
"""Names of the image losses."""
REL_EPS = 1e-2
"""rel-l2: added to T^2 so that black target pixels do not get an infinite weight."""


def image_loss(name: str, image: np.ndarray, target: np.ndarray, n_pixels: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel loss terms and their gradient.

    Args:
        name: 'l2' or 'rel-l2' (else InputError naming ``fit.loss``).
        image, target: (K, 3) linear RGB values of K pixels.
        n_pixels: n, the number of pixels of the full loss (all views).
    Returns:
        ell: (K,) float64, the pixels' terms (the full loss is their sum over all n pixels).
        dL_dI: (K, 3) float64, d ell_j / d I_j.
    """
    I = np.asarray(image, np.float64).reshape(-1, 3)
    T = np.asarray(target, np.float64).reshape(-1, 3)
    r = I - T
    if name == "l2":
        scale = np.ones_like(T)
    elif name == "rel-l2":
        scale = 1.0 / (T * T + REL_EPS)
    else:
        raise InputError("fit.loss", f"expected one of {', '.join(LOSSES)}, got {name!r}")
    c = 1.0 / (3.0 * n_pixels)
    return c * np.sum(scale * r * r, axis=1), 2.0 * c * scale * r

"""Why a render is black: a note for the page instead of a silent black image.

A metal surface mirrors light into the camera only from a band of directions around the
mirror direction of the view; a lamp outside it (a raking lamp below the view's grazing
limit, or a lamp on the wrong side) leaves the image black. The transport matrix says
which texels reach the camera at all: ``T^T 1`` over the surface's pixels is the light
each texel sends into the image. The view's grazing limit is the lowest elevation of a
texel that sends at least ``REACH_FRACTION`` of the best texel's light.
"""
from __future__ import annotations

import time
import weakref

import numpy as np

__all__ = ["render_with_note", "texel_reach", "black_note", "BLACK_LEVEL", "BLACK_FRACTION", "REACH_FRACTION"]

BLACK_LEVEL = 0.5 / 255 / 12.92
"""Linear value below which a pixel shows as 0 on the page's 8-bit sRGB PNG."""
BLACK_FRACTION = 0.99
"""The image counts as black when at least this fraction of the surface's pixels is."""
REACH_FRACTION = 0.01
"""A texel reaches the camera when it sends at least this fraction of the best texel's
light into the image."""


def texel_reach(engine, mask: np.ndarray) -> np.ndarray:
    """(H, W) light each texel of unit radiance sends into the ``mask`` pixels (gray)."""
    T = engine.matrices[0]
    G = np.repeat(np.asarray(mask, np.float32)[..., None], 3, axis=2)
    return np.asarray(T.apply_transpose(G, channels=1))[..., 0]


def _elevation(rows: np.ndarray, H: int) -> np.ndarray:
    """Elevation in degrees of texel rows (row 0 the zenith, row H - 1 the nadir)."""
    return 90.0 - 180.0 * np.asarray(rows, np.float64) / (H - 1)


def black_note(image: np.ndarray, mask: np.ndarray, E: np.ndarray, reach) -> str:
    """A one-line explanation when ``image`` (h, w, 3, linear) is black on the ``mask``
    pixels under light ``E`` (H, W, C); "" otherwise. ``reach``: a callable giving
    ``texel_reach`` (only called for a black image)."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return ""
    dark = (np.asarray(image)[mask].max(axis=-1) < BLACK_LEVEL).mean()
    if dark < BLACK_FRACTION:
        return ""
    E = np.asarray(E, np.float64).max(axis=-1)
    if E.max() <= 0:
        return "the image is black: the light is black everywhere"
    H = E.shape[0]
    R = reach()
    reaches = R >= REACH_FRACTION * max(R.max(), 1e-30)
    lit = E >= 0.05 * E.max()
    up = np.arange(H)[:, None] <= (H - 1) / 2  # upper hemisphere
    if not (reaches & up).any():
        return "the image is black: no direction of the light reaches the camera in this view"
    limit = float(_elevation(np.nonzero((reaches & up).any(axis=1))[0].max(), H))
    top = float(_elevation(np.nonzero(lit.any(axis=1))[0].min(), H))
    if top < limit:
        return (f"the image is black: the light is at most {top:.0f} degrees high, below "
                f"{limit:.0f} degrees, the lowest elevation this view's surface reflects "
                "toward the camera; raise the lamp or lower the camera")
    return ("the image is black: the surface reflects no light from these directions toward "
            "the camera; move the lamp toward the side opposite the camera")


_REACH = weakref.WeakKeyDictionary()  # engine -> (mask, texel_reach) of its view


def render_with_note(ws) -> tuple[bytes, float, str]:
    """The PNG of a studio session's current light, the milliseconds it took, and
    ``black_note`` of it (NumPy only; any thread)."""
    from .imaging import encode_png

    t0 = time.perf_counter()
    engine, E, session = ws.engine, ws.light, ws._require()
    image = ws.relight(E)
    png = encode_png(image)
    ms = (time.perf_counter() - t0) * 1e3
    mask = session.object_mask

    def reach():
        cached = _REACH.get(engine)
        if cached is None or cached[0] is not mask:
            cached = _REACH[engine] = (mask, texel_reach(engine, mask))
        return cached[1]

    return png, ms, black_note(image, mask, E, reach)

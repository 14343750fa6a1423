"""Images over the wire: renders as PNG, masks as PNG, lights as JSON numbers.

Renders are linear float images (h, w, 3); the page gets them tone-mapped (clipped at 1,
sRGB) as PNG, fast to encode (compression level 1) and shown as they are. A light travels
as ``{"shape": [H, W, C], "values": [...]}`` (row-major, row 0 the zenith) so the page can
paint on the numbers themselves.
"""
from __future__ import annotations

import base64
import io

import numpy as np

from ..errors import InputError
from ..io.images import png_bytes

__all__ = ["encode_png", "png_data_url", "decode_mask_png", "mask_png", "envmap_to_json",
           "envmap_from_json", "MAX_LIGHT_VALUE"]

# Radiance a painted light may hold (the optimizer keeps E in [0, 1]; brighter lamps are
# allowed for looking).
MAX_LIGHT_VALUE = 100.0


def encode_png(image: np.ndarray, linear: bool = True) -> bytes:
    """PNG bytes for the page: ``io.images.png_bytes`` by its tone-map table and at
    compression level 1 (fast to encode)."""
    return png_bytes(image, linear, fast=True, compress_level=1)


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def mask_png(mask: np.ndarray) -> bytes:
    """A bool mask as a black-and-white PNG (white = in)."""
    return encode_png(np.asarray(mask, bool))


def decode_mask_png(data: bytes, shape: tuple[int, int], what: str = "mask") -> np.ndarray:
    """(h, w) bool of a mask image (white or opaque = in), which must be ``shape`` (h, w).

    An image with an alpha channel counts its opaque pixels (a painted overlay); otherwise
    pixels brighter than 50 % count.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("RGBA", "LA") or "transparency" in im.info:
                a = np.asarray(im.convert("RGBA"))[..., 3] > 127
            else:
                a = np.asarray(im.convert("L")) > 127
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(what, f"cannot read mask image: {e}") from None
    if a.shape != tuple(shape):
        raise InputError(what, f"mask is {a.shape[1]} x {a.shape[0]} but the image is "
                               f"{shape[1]} x {shape[0]}")
    return a


def envmap_to_json(E: np.ndarray) -> dict:
    E = np.asarray(E, np.float32)
    return {"shape": list(E.shape), "values": [round(float(v), 5) for v in E.ravel()]}


def envmap_from_json(payload, shape: tuple[int, int], what: str = "light") -> np.ndarray:
    """The (H, W, C) float32 light of ``{"shape": [H, W, C], "values": [...]}``; its texel
    grid must be ``shape`` (H, W), C 1 or 3, values finite in [0, MAX_LIGHT_VALUE]."""
    if not isinstance(payload, dict) or "shape" not in payload or "values" not in payload:
        raise InputError(what, "expected {\"shape\": [H, W, C], \"values\": [...]}")
    try:
        H, W, C = (int(v) for v in payload["shape"])
        E = np.asarray(payload["values"], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(what, "shape must be three integers and values numbers") from None
    if (H, W) != tuple(shape) or C not in (1, 3):
        raise InputError(what, f"expected a {shape[0]} x {shape[1]} map with 1 or 3 channels, "
                               f"got {H} x {W} x {C}")
    if E.ndim != 1 or E.size != H * W * C:
        raise InputError(what, f"expected {H * W * C} values, got {E.size}")
    if not np.isfinite(E).all() or E.min() < 0 or E.max() > MAX_LIGHT_VALUE:
        raise InputError(what, f"values must be finite and in [0, {MAX_LIGHT_VALUE:g}]")
    return E.reshape(H, W, C).astype(np.float32)

"""Bounded work for what the page uploads: light images checked from their header and
shrunk to the environment map's size first, and the bytes each session may keep.

A light image's size is read from its header (PNG/JPEG by Pillow without decoding, HDR
from its resolution line, EXR from its ``dataWindow``) and refused above
``max_light_pixels`` before any pixel is decoded. A PNG/JPEG within the limit is decoded
once as 8-bit values and box-averaged in linear light, a few rows at a time, to about four
texels per map texel; only that small image goes through ``optimize.init``'s resampling
and CIE L* conversion (the same numbers ``optimize --init FILE`` gives, up to the box
prefilter). So a large light costs a decode and one pass, never float copies of its size.
"""
from __future__ import annotations

import os
import re
import struct
import warnings

import numpy as np

from ..errors import InputError

__all__ = ["light_image_size", "read_light_image", "UploadLedger"]

_OVERSAMPLE = 4  # texels of the box-averaged image per texel of the map, each way


def _exr_size(path: str) -> tuple[int, int]:
    """(width, height) of an OpenEXR file from its header's ``dataWindow`` (box2i)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] != b"\x76\x2f\x31\x01":
        raise InputError(path, "cannot read image: not an OpenEXR file")
    pos = 8
    while pos < len(head) and head[pos] != 0:
        end = head.find(b"\0", pos)
        tend = head.find(b"\0", end + 1)
        if end < 0 or tend < 0 or tend + 4 > len(head):
            break
        name, typ = head[pos:end], head[end + 1:tend]
        (size,) = struct.unpack("<i", head[tend + 1:tend + 5])
        value = head[tend + 5:tend + 5 + size]
        if name == b"dataWindow" and typ == b"box2i" and len(value) == 16:
            x0, y0, x1, y1 = struct.unpack("<4i", value)
            return x1 - x0 + 1, y1 - y0 + 1
        if size < 0:
            break
        pos = tend + 5 + size
    raise InputError(path, "cannot read image: the OpenEXR header has no dataWindow")


def _hdr_size(path: str) -> tuple[int, int]:
    """(width, height) of a Radiance HDR file from its resolution line."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    m = re.search(rb"\n\n([-+][YX]) (\d+) ([-+][YX]) (\d+)\s*\n", head)
    if not head.startswith(b"#?") or m is None:
        raise InputError(path, "cannot read image: not a Radiance HDR file")
    a, b = int(m.group(2)), int(m.group(4))
    return (b, a) if m.group(1).endswith(b"Y") else (a, b)


def light_image_size(path: str) -> tuple[int, int]:
    """(width, height) of a light image from its header only (InputError if unreadable)."""
    ext = os.path.splitext(path)[1].lower()
    if ext == ".exr":
        return _exr_size(path)
    if ext == ".hdr":
        return _hdr_size(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError:
        raise InputError(path, "cannot read image: its header declares more pixels than "
                               "Pillow decodes") from None
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(path, f"cannot read image: {e}") from None


def _check_size(path: str, max_pixels: int) -> tuple[int, int]:
    w, h = light_image_size(path)
    if w < 2 or h < 2 or w * h > max_pixels:
        what = "too small" if w < 2 or h < 2 else f"more than the {max_pixels:,} pixels " \
                                                    "a light may have (--max-light-pixels)"
        raise InputError(path, f"the light image is {w} x {h} pixels, {what}")
    return w, h


def _box_mean(img: np.ndarray, shape: tuple[int, int], convert) -> np.ndarray:
    """``convert(img)`` (linear float64) box-averaged to about ``_OVERSAMPLE`` texels per
    map texel, converting a strip of rows at a time (never a float copy of ``img``)."""
    H, W = shape
    h, w = img.shape[:2]
    fy, fx = max(1, h // (H * _OVERSAMPLE)), max(1, w // (W * _OVERSAMPLE))
    if fy == fx == 1:
        return convert(img)
    hh, ww = h // fy, w // fx
    out = np.empty((hh, ww, 3))
    step = max(1, (1 << 22) // max(1, fy * ww * fx * 3))  # output rows per strip (~32 MiB)
    for r in range(0, hh, step):
        block = convert(img[r * fy:(r + step) * fy, :ww * fx])  # (rows*fy, ww*fx, 3)
        n = block.shape[0] // fy
        out[r:r + n] = block[:n * fy].reshape(n, fy, ww, fx, 3).mean(axis=(1, 3))
    return out


def _decode_8bit(path: str, shape: tuple[int, int]) -> np.ndarray:
    """(h, w, 3) uint8 sRGB of a PNG/JPEG (a JPEG decoded at a reduced scale)."""
    from PIL import Image, UnidentifiedImageError

    H, W = shape
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format == "JPEG":  # the decoder itself scales down by up to 8
                    im.draft("RGB", (W * _OVERSAMPLE, H * _OVERSAMPLE))
                return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(path, f"cannot read image: {e}") from None


def read_light_image(path: str, shape: tuple[int, int], channels: int,
                     max_pixels: int) -> np.ndarray:
    """The (H, W, channels) float32 light of an image file, as ``optimize --init FILE``
    reads it (module docstring for the bounds)."""
    from ..optimize.init import cie_lightness, resize_envmap

    from ..io.images import read_envmap, srgb_to_linear

    _check_size(path, max_pixels)
    if os.path.splitext(path)[1].lower() in (".exr", ".hdr"):  # Mitsuba: the caller's thread
        small = _box_mean(read_envmap(path), shape, lambda a: a.astype(np.float64))
    else:
        lut = srgb_to_linear(np.arange(256) / 255.0).astype(np.float64)
        small = _box_mean(_decode_8bit(path, shape), shape, lambda a: lut[a])
    rgb = resize_envmap(small, shape)
    if channels == 1:
        return np.clip(cie_lightness(rgb) / 100.0, 0, 1)[..., None].astype(np.float32)
    return np.clip(rgb, 0, 1).astype(np.float32)


class UploadLedger:
    """The uploads one session keeps (path -> bytes), bounded by a quota in bytes."""

    def __init__(self):
        self.files: dict[str, int] = {}

    @property
    def total(self) -> int:
        return sum(self.files.values())

    def check(self, name: str, size: int, quota: int) -> None:
        if self.total + size > quota:
            raise InputError(name, f"this page's uploads would take {(self.total + size) / 2 ** 20:.1f} "
                                   f"MiB, more than the {quota / 2 ** 20:g} MiB each page may "
                                   "keep (--upload-quota-mb); reload the page to start afresh")

    def add(self, path, size: int) -> None:
        self.files[str(path)] = int(size)

    def discard(self, path) -> None:
        """Forget and delete a failed upload."""
        self.files.pop(str(path), None)
        try:
            os.unlink(path)
        except OSError:
            pass

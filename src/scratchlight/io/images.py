"""Environment maps and images on disk.

Linear images (renders, environment maps) are float32 arrays of shape (H, W, C) with
C = 1 or 3. OpenEXR goes through the OpenEXR library's own Python binding (single-threaded:
Mitsuba's Bitmap deadlocks on EXR files when Dr.Jit's pool has one thread), Radiance HDR
through Mitsuba's Bitmap, PNG through Pillow with the sRGB transfer curve.
"""
from __future__ import annotations

import io
import os

import numpy as np

from ..errors import InputError
from .atomic import atomic_path

__all__ = [
    "read_envmap", "read_exr", "write_exr", "write_png", "png_pixels", "png_bytes", "read_png_mask",
    "linear_to_srgb", "srgb_to_linear", "tonemap", "ENVMAP_EXTENSIONS",
]

# The one list of image files a light can be read from (envmaps, --init FILE).
ENVMAP_EXTENSIONS = (".exr", ".hdr", ".png", ".jpg", ".jpeg")


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB transfer curve (IEC 61966-2-1) on linear values in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer curve on encoded values in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, np.power((x + 0.055) / 1.055, 2.4))


def tonemap(image: np.ndarray, exposure: float = 1.0) -> np.ndarray:
    """Linear float image (H, W[, C]) -> uint8 sRGB (clipped at 1 after ``exposure``)."""
    return np.round(linear_to_srgb(np.asarray(image, np.float64) * exposure) * 255).astype(np.uint8)


_LUT_SIZE = 1 << 14
_SRGB_LUT: np.ndarray | None = None  # ``tonemap`` at _LUT_SIZE levels, built on first use


def _table_tonemap(image: np.ndarray) -> np.ndarray:
    """``tonemap`` (exposure 1) by a 16k-entry table of its values: ~10 x faster, equal to
    within one grey level (for frames streamed to the studio page)."""
    global _SRGB_LUT
    if _SRGB_LUT is None:
        _SRGB_LUT = tonemap(np.arange(_LUT_SIZE, dtype=np.float64) / (_LUT_SIZE - 1))
    idx = np.clip(np.asarray(image, np.float32), 0.0, 1.0) * np.float32(_LUT_SIZE - 1) + np.float32(0.5)
    return _SRGB_LUT[idx.astype(np.int32)]


def png_pixels(image: np.ndarray, linear: bool = True, fast: bool = False) -> np.ndarray:
    """The pixels a PNG of ``image`` holds, uint8 (H, W) or (H, W, 3|4): a ``linear`` float
    image (H, W[, C]) tone-mapped to sRGB (clipped at 1), other float images taken as
    display values in [0, 1]; uint8 as it is; bool as 0/255. ``fast`` tone-maps by a table
    (within one grey level)."""
    a = np.asarray(image)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif a.dtype != np.uint8:
        if linear:
            a = _table_tonemap(a) if fast else tonemap(a)
        else:
            a = np.round(np.clip(a, 0, 1) * 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    return np.ascontiguousarray(a)


def png_bytes(image: np.ndarray, linear: bool = True, fast: bool = False,
              compress_level: int = 6) -> bytes:
    """PNG file contents of ``image`` (``png_pixels``); ``compress_level`` 0-9 (1: fast)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(png_pixels(image, linear, fast)).save(buf, format="PNG",
                                                         compress_level=compress_level)
    return buf.getvalue()


def _as_rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return a[..., :3]


def read_exr(path: str | os.PathLike) -> np.ndarray:
    """The pixels of an OpenEXR file's first part as float32 (H, W, C): C = 3 or 4 for its
    RGB(A) channels, 1 for a luminance (Y) or single-channel image.

    The header's data window is checked against the point limit before any pixel is
    decoded. Raises InputError for a missing, unreadable or damaged file and for one with
    several channels none of which are R, G, B or Y.
    """
    import OpenEXR

    from .guards import check_point_count

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    try:
        with OpenEXR.File(path, header_only=True, num_threads=0) as f:
            lo, hi = f.header()["dataWindow"]
        width, height = int(hi[0]) - int(lo[0]) + 1, int(hi[1]) - int(lo[1]) + 1
        if width < 1 or height < 1:
            raise InputError(path, f"the image's data window is empty ({width} x {height})")
        check_point_count(path, width, height, what="image")
        with OpenEXR.File(path, num_threads=0) as f:
            channels = {name: ch.pixels for name, ch in f.channels().items()}
    except InputError:
        raise
    except Exception as e:  # the binding raises RuntimeError/ValueError for damaged files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, f"cannot read image: {first[:200]}") from None
    for name in ("RGBA", "RGB", "Y"):
        if name in channels:
            data = channels[name]
            break
    else:
        if len(channels) != 1:
            raise InputError(path, "no R, G, B or Y channels among "
                                   f"{', '.join(sorted(channels)[:8])}")
        data = next(iter(channels.values()))
    data = np.asarray(data, dtype=np.float32)
    return data if data.ndim == 3 else data[..., None]


def read_envmap(path: str | os.PathLike) -> np.ndarray:
    """Read a lat-long environment map as linear float32 RGB, shape (H, W, 3).

    EXR/HDR are taken as linear; PNG/JPEG are decoded from sRGB. Raises InputError for a
    missing or unreadable file and for non-finite or negative values.
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in ENVMAP_EXTENSIONS:
        raise InputError(path, f"unknown environment-map extension {ext or '(none)'!r}; "
                               f"supported: {', '.join(ENVMAP_EXTENSIONS)}")
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    if ext == ".exr":
        data = read_exr(path)
    elif ext == ".hdr":
        from ..backend import current_variant

        current_variant()
        import mitsuba as mi

        try:
            bmp = mi.Bitmap(path)
            data = np.array(bmp.convert(mi.Bitmap.PixelFormat.RGB, mi.Struct.Type.Float32,
                                        srgb_gamma=False), dtype=np.float32)
        except Exception as e:  # Mitsuba raises RuntimeError for corrupt files
            raise InputError(path, f"cannot read image: {str(e).splitlines()[0]}") from None
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                data = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise InputError(path, f"cannot read image: {e}") from None
        data = srgb_to_linear(data).astype(np.float32)
    data = _as_rgb(data).astype(np.float32)
    if not np.isfinite(data).all():
        raise InputError(path, "environment map contains non-finite values (NaN or Inf)")
    if (data < 0).any():
        raise InputError(path, "environment map contains negative values")
    if data.shape[0] < 2 or data.shape[1] < 2:
        raise InputError(path, f"environment map of {data.shape[1]} x {data.shape[0]} is too small")
    return data


def write_exr(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write a linear float image (H, W[, C]) as an RGB float32 OpenEXR file (ZIP
    compression, lossless; atomically)."""
    import OpenEXR

    rgb = np.ascontiguousarray(_as_rgb(np.asarray(image, np.float32)))
    if not np.isfinite(rgb).all():
        raise ValueError("refusing to write an image with non-finite values")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with atomic_path(path, suffix=".exr") as tmp:
        with OpenEXR.File(header, {"RGB": rgb}, num_threads=0) as f:
            f.write(tmp)


def write_png(path: str | os.PathLike, image: np.ndarray, linear: bool = True) -> None:
    """Write a PNG (atomically) of ``png_pixels(image, linear)``: ``linear`` float images
    tone-mapped to sRGB; uint8 and bool arrays as they are (bool as 0/255)."""
    data = png_bytes(image, linear)
    with atomic_path(path, suffix=".png") as tmp:
        with open(tmp, "wb") as f:
            f.write(data)


def read_png_mask(path: str | os.PathLike) -> np.ndarray:
    """Read a mask image (any Pillow format) as bool (H, W): True where the pixel is > 50 %."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(path, "no such file")
    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise InputError(path, f"cannot read mask image: {e}") from None
    return a > 0.5

"""The station's channel images on disk: the layout CSV, the photos, the stack.

A channel layout is a CSV file with one row per channel:

- ``channel``: a name (required, unique);
- ``file``: its image, relative to the images' folder (required, unique): the channel alone
  at full drive (PNG 8/16-bit, TIFF 8/16-bit or float, EXR);
- ``group`` (optional): free text shown in the outputs (a ring, a quadrant);
- ``exposure`` (optional, default 1): the photo's exposure relative to the others (a dim
  channel shot 4 x longer: 4); the image is divided by it;
- optionally the channel's geometry, the columns of a dome layout (``dome`` module:
  ``elevation_min``, ``elevation_max``, ``azimuth_min``, ``azimuth_max``, or a spot's
  ``elevation``, ``azimuth``, ``diameter``; ``gain``): with it for every channel the L2
  term of the light itself (target 'env') is available.

Images are read as linear luminance (Rec. 709 weights on linear RGB): integer images are
decoded by the sRGB curve (``io.images.srgb_to_linear``) unless ``curve='linear'``; EXR
and float TIFF are linear. An optional dark frame (the station with every channel off) is
subtracted from each photo after decoding. The folder must hold exactly the layout's
images (besides the dark frame and the mask): a missing or an unlisted image, or images of
different sizes, are refused; a photo whose pixels reach the top code (clipped) warns.
"""
from __future__ import annotations

import csv
import dataclasses
import math
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import InputError, InputWarning
from ..objectives import LUMINANCE_WEIGHTS
from .dome import Channel, _channel

__all__ = ["ChannelPhoto", "ChannelStack", "IMAGE_EXTENSIONS", "CURVES", "read_channel_layout",
           "read_photo", "load_stack", "SATURATION_WARN"]

IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".exr")
CURVES = ("srgb", "linear")
GEOMETRY_COLUMNS = ("elevation_min", "elevation_max", "azimuth_min", "azimuth_max",
                    "elevation", "azimuth", "diameter", "gain")
COLUMNS = ("channel", "file", "group", "exposure", *GEOMETRY_COLUMNS)
SATURATION_WARN = 0.001
"""A photo with more than this fraction of its pixels at the top code warns."""


@dataclasses.dataclass(frozen=True)
class ChannelPhoto:
    """One row of a channel layout: name, image path (absolute), group, relative exposure,
    and the channel's geometry (``dome.Channel``) or None."""

    name: str
    file: str
    group: str = ""
    exposure: float = 1.0
    geometry: Channel | None = None


def _exposure(text: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise InputError(where, f"exposure: expected a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise InputError(where, f"exposure: must be a positive number, got {text!r}")
    return v


def read_channel_layout(path: str, folder: str, ignore: tuple[str, ...] = ()) -> list[ChannelPhoto]:
    """The channels of the layout CSV ``path`` whose images lie in ``folder``; InputError
    for a missing column or image, an image of ``folder`` the layout does not name
    (``ignore``: files that may be there, e.g. the dark frame), repeated names or files."""
    if not os.path.isdir(folder):
        raise InputError(folder, "no such folder of channel images")
    if not os.path.isfile(path):
        raise InputError(path, "no such layout file")
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in (reader.fieldnames or [])]
            reader.fieldnames = header
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"cannot read the layout: {e}") from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise InputError(path, f"unknown column(s) {', '.join(repr(h) for h in unknown)}; "
                               f"allowed: {', '.join(COLUMNS)}")
    for need in ("channel", "file"):
        if need not in header:
            raise InputError(path, f"the layout needs a {need!r} column")
    photos = []
    for k, row in enumerate(rows):
        where = f"{path}: row {k + 2}"
        vals = {c: (v or "").strip() for c, v in row.items() if c is not None}
        if not vals.get("channel"):
            raise InputError(where, "channel: every row needs a name")
        if not vals.get("file"):
            raise InputError(where, "file: every row needs its image file")
        geo = {c: vals[c] for c in GEOMETRY_COLUMNS if vals.get(c)}
        geometry = _channel({"channel": vals["channel"], **geo}, where) if geo else None
        file = os.path.normpath(os.path.join(folder, vals["file"]))
        if os.path.splitext(file)[1].lower() not in IMAGE_EXTENSIONS:
            raise InputError(where, f"file: {vals['file']!r} is not an image of "
                                    f"{', '.join(IMAGE_EXTENSIONS)}")
        if not os.path.isfile(file):
            raise InputError(file, f"no such image (named by {where})")
        photos.append(ChannelPhoto(vals["channel"], file, vals.get("group", ""),
                                   _exposure(vals["exposure"], where) if vals.get("exposure") else 1.0,
                                   geometry))
    if not photos:
        raise InputError(path, "the layout has no channel")
    for attr, what in (("name", "channel names"), ("file", "image files")):
        values = [getattr(p, attr) for p in photos]
        if len(set(values)) != len(values):
            twice = sorted({v for v in values if values.count(v) > 1})
            raise InputError(path, f"{what} must be unique; repeated: {', '.join(map(os.path.basename, twice))}")
    if any(p.geometry is None for p in photos) and any(p.geometry is not None for p in photos):
        raise InputError(path, "give the geometry columns for every channel or for none")
    named = {os.path.realpath(p.file) for p in photos} | {os.path.realpath(i) for i in ignore if i}
    extra = sorted(e.name for e in os.scandir(folder) if e.is_file()
                   and os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
                   and os.path.realpath(e.path) not in named)
    if extra:
        raise InputError(folder, f"holds {len(extra)} image(s) the layout does not name: "
                                 f"{', '.join(extra[:5])}{' ...' if len(extra) > 5 else ''}")
    return photos


def _pixels(path: str) -> np.ndarray:
    """The stored pixels of an image: uint8/uint16 or float32, (h, w) or (h, w, C)."""
    ext = os.path.splitext(path)[1].lower()
    if ext in (".tif", ".tiff"):
        import tifffile

        try:
            a = tifffile.imread(path)
        except Exception as e:  # tifffile raises many types for damaged files
            raise InputError(path, f"cannot read image: {str(e).splitlines()[0]}") from None
        if a.ndim == 3 and a.shape[0] in (3, 4) and a.shape[2] not in (3, 4):
            a = np.moveaxis(a, 0, -1)      # planar RGB
        return a
    if ext == ".exr":
        from ..io.images import read_exr

        a = read_exr(path)
        return a[..., 0] if a.shape[2] == 1 else a
    from ..backend import current_variant

    current_variant()
    import mitsuba as mi

    try:
        return np.array(mi.Bitmap(path), copy=False)
    except Exception as e:  # Mitsuba raises RuntimeError for corrupt files
        raise InputError(path, f"cannot read image: {str(e).splitlines()[0]}") from None


def read_photo(path: str, curve: str = "srgb") -> tuple[np.ndarray, float]:
    """(linear luminance (h, w) float32, fraction of pixels at the top code) of an image;
    float images are linear and never count as clipped."""
    a = _pixels(path)
    if a.ndim == 3 and a.shape[2] in (2, 4):
        a = a[..., :-1]                    # drop alpha
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (1, 3)) or min(a.shape[:2]) < 2:
        raise InputError(path, f"expected a gray or RGB image, got an array of shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        if a.dtype not in (np.uint8, np.uint16):
            raise InputError(path, f"unsupported pixel type {a.dtype} (8- or 16-bit, or float)")
        top = np.iinfo(a.dtype).max
        clipped = float(np.mean(a.max(axis=2) >= top if a.ndim == 3 else a >= top))
        v = _decoding_table(top, curve)[a]
    else:
        v, clipped = a.astype(np.float32), 0.0
        if not np.isfinite(v).all():
            raise InputError(path, "the image holds non-finite values (NaN or Inf)")
    Y = v if v.ndim == 2 else (v[..., 0] if v.shape[2] == 1 else v @ LUMINANCE_WEIGHTS.astype(np.float32))
    return np.ascontiguousarray(Y, np.float32), clipped


_TABLES: dict[tuple[int, str], np.ndarray] = {}


def _decoding_table(top: int, curve: str) -> np.ndarray:
    """Linear value (float32) of every code 0 .. top of an integer image: a table lookup
    decodes a photo ~10 x faster than the sRGB formula."""
    from ..io.images import srgb_to_linear

    key = (int(top), curve)
    if key not in _TABLES:
        v = np.arange(top + 1, dtype=np.float64) / top
        _TABLES[key] = (srgb_to_linear(v) if curve == "srgb" else v).astype(np.float32)
    return _TABLES[key]


@dataclasses.dataclass
class ChannelStack:
    """The stack (C, h, w) float32 of linear luminance per channel at full drive (dark
    frame subtracted, divided by the exposures), the channels, the clipped fractions and
    the time the reading took (s)."""

    stack: np.ndarray
    photos: list[ChannelPhoto]
    clipped: dict[str, float]
    load_s: float

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.photos]


def load_stack(photos: list[ChannelPhoto], dark: str | None = None, curve: str = "srgb",
               exposure: float = 1.0, progress: bool = False) -> ChannelStack:
    """Read every photo into one (C, h, w) float32 stack: (photo - dark) / (exposure x the
    row's exposure). Warns (InputWarning) for photos with clipped pixels."""
    if curve not in CURVES:
        raise InputError("curve", f"must be one of {', '.join(CURVES)}, got {curve!r}")
    t0 = time.perf_counter()
    first, clip0 = read_photo(photos[0].file, curve)
    D = None
    if dark:
        if not os.path.isfile(dark):
            raise InputError(dark, "no such dark frame")
        D, _ = read_photo(dark, curve)
        if D.shape != first.shape:
            raise InputError(dark, f"dark frame of {D.shape[1]} x {D.shape[0]} pixels, the "
                                   f"channel images {first.shape[1]} x {first.shape[0]}")
    stack = np.empty((len(photos),) + first.shape, np.float32)
    clipped = {}
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(photos), desc="channel images", unit="image", leave=False)
    pool = ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1)))
    try:   # decoding releases the GIL: two threads read 64 PNGs ~1.3 x faster
        def decoded_photos():   # 8 at a time: at most 8 decoded images wait in memory
            for i in range(1, len(photos), 8):
                yield from pool.map(lambda p: read_photo(p.file, curve), photos[i:i + 8])

        decoded = decoded_photos()
        for k, p in enumerate(photos):
            Y, clip = (first, clip0) if k == 0 else next(decoded)
            if Y.shape != first.shape:
                raise InputError(p.file, f"image of {Y.shape[1]} x {Y.shape[0]} pixels, the "
                                         f"first channel's ({photos[0].name}) {first.shape[1]} "
                                         f"x {first.shape[0]}: every channel image must have "
                                         f"one size")
            if D is not None:
                np.subtract(Y, D, out=Y)
            np.multiply(Y, np.float32(1.0 / (exposure * p.exposure)), out=stack[k])
            clipped[p.name] = clip
            if clip > SATURATION_WARN:
                warnings.warn(InputWarning(p.file, f"{100 * clip:.2g} % of the pixels are at "
                                                   f"the top code (clipped): levels chosen from "
                                                   f"this image undercount its channel"),
                              stacklevel=2)
            if bar is not None:
                bar.update()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    return ChannelStack(stack, photos, clipped, time.perf_counter() - t0)

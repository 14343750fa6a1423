"""What a TIFF must pass before its pixels are decoded as heights.

- the first page is one channel of numbers: palette, RGB, YCbCr, CMYK and Lab images are
  pictures (often a colour preview of an instrument file), not heights;
- its size is within the point limit;
- every strip or tile lies inside the file, uncompressed ones hold the bytes the image
  needs, and compressed ones (deflate, LZW, PackBits, LZMA, Zstandard) inflate to no more
  than one strip or tile: checked with a decoder whose output is bounded, so a
  decompression bomb costs no memory. Other codecs (JPEG and the like: lossy, never
  heights) are refused before any decoding;
- tifffile's log messages are collected instead of reaching stderr.
"""
from __future__ import annotations

import contextlib
import logging
import lzma
import zlib

from ..errors import InputError
from .guards import check_point_count

__all__ = ["check_height_page", "check_segments", "tifffile_log", "PARK_SYSTEMS_MAGIC_TAG"]

PARK_SYSTEMS_MAGIC_TAG = 50432
"""Private tag of Park Systems TIFFs, whose heights sit in tags behind a preview image."""

_PICTURES = {2: "an RGB colour image", 3: "a palette (indexed colour) image",
             5: "a CMYK image", 6: "a YCbCr colour image", 8: "a CIE Lab image",
             9: "an ICC Lab image", 10: "an ITU Lab image"}
_ZLIB = {8, 32946, 50013}
_LZMA = {34925}
_ZSTD = {50000, 34926}
_LZW = {5}
_PACKBITS = {32773}
_CODEC_NAMES = {7: "JPEG", 6: "old-style JPEG", 34712: "JPEG 2000", 34892: "lossy JPEG",
                50001: "WebP", 50002: "JPEG XL", 34887: "LERC", 2: "CCITT RLE",
                3: "CCITT fax 3", 4: "CCITT fax 4", 32809: "ThunderScan"}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.messages.append(record.getMessage().strip().splitlines()[0])


@contextlib.contextmanager
def tifffile_log():
    """Collect tifffile's log messages (a list) instead of printing them."""
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def check_height_page(path: str, page, what: str = "the first page") -> None:
    """Refuse a page that is a picture or too large, before it is decoded."""
    photometric = int(getattr(page, "photometric", 1))
    if photometric in _PICTURES:
        raise InputError(path, f"{what} is {_PICTURES[photometric]}, not height data "
                               "(a colour preview? export the heights as a float or 16-bit "
                               "grey TIFF)")
    samples = int(page.samplesperpixel)
    if samples != 1:
        raise InputError(path, f"{what} has {samples} samples per pixel; a height map has one")
    check_point_count(path, int(page.imagewidth), int(page.imagelength), "image")


def _segment_bytes(page) -> int:
    """Upper bound of the decoded size of one strip or tile, in bytes."""
    bps = page.bitspersample
    bps = max(bps) if isinstance(bps, tuple) else int(bps)
    per_sample = (bps + 7) // 8
    samples = int(page.samplesperpixel) if int(page.planarconfig) == 1 else 1
    if page.is_tiled:
        return (int(page.tilewidth) * int(page.tilelength) * max(1, int(page.tiledepth))
                * samples * per_sample)
    rows = min(int(page.rowsperstrip) or int(page.imagelength), int(page.imagelength))
    return rows * int(page.imagewidth) * samples * per_sample


def _inflated_size(codec: int, data: bytes, limit: int) -> int:
    """Bytes ``data`` inflates to, decoding at most ``limit + 1``."""
    if codec in _ZLIB:
        d = zlib.decompressobj()
        return len(d.decompress(data, limit + 1))
    if codec in _LZMA:
        return len(lzma.LZMADecompressor().decompress(data, max_length=limit + 1))
    if codec in _LZW or codec in _PACKBITS:
        import imagecodecs

        if codec in _LZW:  # fills at most the given output size, then stops
            return len(imagecodecs.lzw_decode(data, out=limit + 1))
        try:
            return len(imagecodecs.packbits_decode(data, out=limit + 1))
        except RuntimeError as e:  # imagecodecs.ImcdError
            if "OUTPUT_TOO_SMALL" in str(e):
                return limit + 1
            raise
    import zstandard  # tifffile decodes Zstandard only with it

    with zstandard.ZstdDecompressor().stream_reader(data) as reader:
        return len(reader.read(limit + 1))


def check_segments(path: str, fh, page, file_size: int) -> None:
    """Refuse strips or tiles outside the file, too short, or inflating beyond their size."""
    codec = int(page.compression)
    seg = _segment_bytes(page)
    offsets, counts = page.dataoffsets, page.databytecounts
    if not offsets or len(offsets) != len(counts):
        raise InputError(path, "the image has no (or inconsistent) strip/tile offsets")
    for k, (off, n) in enumerate(zip(offsets, counts)):
        if off < 0 or n < 0 or off + n > file_size:
            raise InputError(path, f"strip/tile {k} lies beyond the end of the file "
                                   "(truncated file)")
    if codec == 1:
        need = int(page.nbytes) if int(page.planarconfig) == 1 else 0
        if need and sum(counts) < need:
            raise InputError(path, f"the image data is truncated: {sum(counts):,} bytes, the "
                                   f"{page.imagewidth} x {page.imagelength} image needs {need:,}")
        return
    if not any(codec in family for family in (_ZLIB, _LZMA, _ZSTD, _LZW, _PACKBITS)):
        name = _CODEC_NAMES.get(codec, f"number {codec}")
        raise InputError(path, f"the image is compressed with {name}, which is not read for "
                               "heights (use none, deflate, LZW, PackBits, LZMA or Zstandard)")
    for k, (off, n) in enumerate(zip(offsets, counts)):
        fh.seek(off)
        data = fh.read(n)
        try:
            size = _inflated_size(codec, data, seg)
        except Exception as e:  # noqa: BLE001  (zlib, lzma and zstandard errors)
            raise InputError(path, f"compressed strip/tile {k} is corrupt "
                                   f"({str(e).strip() or type(e).__name__})") from None
        if size > seg:
            raise InputError(path, f"compressed strip/tile {k} inflates to more than the "
                                   f"{seg:,} bytes it should hold (a decompression bomb?)")

"""Writers of small height-map files the I/O tests need beyond ``heightmap_files``:
Gwyddion and Koala text exports, x/y/z point tables and a Park Systems TIFF (a colour
preview page with the heights in private tags)."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PARK_MAGIC, PARK_VERSION1 = 0x0E031301, 0x1000001


def _utf16(text: str, chars: int) -> bytes:
    return text.encode("utf-16-le").ljust(2 * chars, b"\x00")[: 2 * chars]


def park_header(nx: int, ny: int, size_x_um: float, size_y_um: float, scale: float,
                unit: str = "um") -> bytes:
    """The version-1 header tag (50435) of a Park Systems TIFF (layout of Gwyddion's psia.c)."""
    parts = [struct.pack("<I", 0), _utf16("Topography", 32), _utf16("", 8),
             struct.pack("<dIII", 0.0, 0, 0, nx), struct.pack("<I", ny),
             struct.pack("<dIdIII", 0.0, 0, 0.0, 1, 1, 0),
             struct.pack("<dddddd", size_x_um, size_y_um, 0.0, 0.0, 1.0, 0.0), _utf16("V", 8),
             struct.pack("<ddddd", 0.0, 0.0, 1.0, scale, 0.0), _utf16(unit, 8),
             struct.pack("<iiiIII", 0, 0, 0, 0, 0, 0)]
    return b"".join(parts)


def write_park_tiff(path, counts: np.ndarray, size_x_um: float, size_y_um: float,
                    scale: float) -> Path:
    """Park Systems TIFF: an RGB preview page; int16 ``counts`` (ny, nx) in tag 50434, with
    heights ``counts * scale`` um (the data's first line is the bottom of the image)."""
    import tifffile

    counts = np.asarray(counts, "<i2")
    ny, nx = counts.shape
    tags = [(50432, "I", 1, PARK_MAGIC, False), (50433, "I", 1, PARK_VERSION1, False),
            (50434, "B", counts.nbytes, counts.tobytes(), False),
            (50435, "B", 0, park_header(nx, ny, size_x_um, size_y_um, scale), False)]
    tags[3] = (50435, "B", len(tags[3][3]), tags[3][3], False)
    preview = np.zeros((ny, nx, 3), np.uint8)
    tifffile.imwrite(path, preview, photometric="rgb", extratags=tags)
    return Path(path)


def gwyddion_text(values: np.ndarray, width: str, height: str, value_unit: str,
                  german: bool = False) -> str:
    """Gwyddion's plain-text matrix export (tab-separated) with its header."""
    keys = (("Kanal", "Breite", "Höhe", "Werteinheiten") if german
            else ("Channel", "Width", "Height", "Value units"))
    head = [f"# {keys[0]}: Height", f"# {keys[1]}: {width}", f"# {keys[2]}: {height}",
            f"# {keys[3]}: {value_unit}"]
    rows = ["\t".join(repr(float(v)) for v in row) for row in np.asarray(values)]
    return "\n".join(head + rows) + "\n"


def koala_text(values: np.ndarray, pixel_size_m: float, conversion_m: float,
               data_unit: str = "rad") -> str:
    """Lyncée Tec Koala's text export: h/w, pixel size, data unit, height conversion."""
    ny, nx = np.asarray(values).shape
    head = [f"h={ny} w={nx}", f"pixel size={pixel_size_m!r} m", f"data unit={data_unit}",
            f"height conversion factor (-> m)={conversion_m!r}"]
    rows = [" ".join(repr(float(v)) for v in row) for row in np.asarray(values)]
    return "\n".join(head + rows) + "\n"


def xyz_points(values: np.ndarray, dx: float, dy: float, seed: int = 0,
               drop: int = 0) -> np.ndarray:
    """(n, 3) x, y, z rows of a grid (row i at y = i * dy), shuffled, ``drop`` removed."""
    ny, nx = np.asarray(values).shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    pts = np.stack([xx.ravel() * dx, yy.ravel() * dy, np.asarray(values, float).ravel()], 1)
    rng = np.random.default_rng(seed)
    rng.shuffle(pts)
    return pts[drop:]

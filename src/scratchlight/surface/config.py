"""Which height map, and how it is prepared for rendering: the surface part of every config."""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

from ..errors import InputError
from ..heightmap import HeightMap
from ..options import check_declared, option

__all__ = ["SurfaceConfig", "load_surface"]


@dataclasses.dataclass
class SurfaceConfig:
    """How a height-map file becomes the surface that is rendered."""

    path: str = option("", "height map file (.x3p .sur .tif .npy .npz .csv .txt .asc); not "
                          "needed with --config", name="heightmap", flag="heightmap", path=True)
    """Height-map file (absolute path once a run is configured)."""
    max_size: int = option(1024, "resample so neither side of the grid exceeds this many "
                                 "points (0 keeps the full grid)", lo=0)
    """Resample the grid so neither side exceeds this many points (0 keeps every point)."""
    level: bool = option(True, "do not subtract the best-fit plane", negate="no_level")
    """Subtract the best-fit plane before rendering."""
    crop: tuple[int, int, int, int] | None = option(
        None, "keep this window of the grid (cells)", metavar="X0,Y0,NX,NY")
    """Window (x0, y0, nx, ny) of the grid to keep, in cells, before resampling."""

    def validate(self) -> None:
        """Raise InputError naming the field (``surface.<name>``) for an unusable value."""
        if not self.path:
            raise InputError("surface.path", "no height-map file given")
        if not (self.max_size == 0 or self.max_size >= 3):
            raise InputError("surface.max_size", f"must be 0 (keep every point) or at least 3, "
                                                 f"got {self.max_size}")
        if self.crop is not None:
            if len(self.crop) != 4 or any(int(v) != v for v in self.crop):
                raise InputError("surface.crop", f"expected 4 integers X0,Y0,NX,NY, got {self.crop}")
            x0, y0, nx, ny = self.crop
            if x0 < 0 or y0 < 0 or nx < 3 or ny < 3:
                raise InputError("surface.crop", "needs X0, Y0 >= 0 and NX, NY >= 3, got "
                                                 f"{','.join(str(v) for v in self.crop)}")
        check_declared(self, "surface.")


def load_surface(cfg: SurfaceConfig,
                 before_prepare: Callable[[HeightMap], HeightMap] | None = None,
                 ) -> tuple[HeightMap, HeightMap]:
    """Read the file ``cfg.path`` and prepare it; returns ``(as_read, prepared)``.

    ``before_prepare(hm) -> hm`` runs on the map as read, e.g. to attach a mask (a user
    region, a ground truth) that must be cropped and resampled along with the heights.
    """
    from ..io import read_heightmap
    from .prepare import prepare

    cfg.validate()
    raw = read_heightmap(os.fspath(cfg.path))
    if before_prepare is not None:
        raw = before_prepare(raw)
    crop_box = None if cfg.crop is None else tuple(int(v) for v in cfg.crop)
    hm = prepare(raw, level=cfg.level, crop_box=crop_box,
                 max_size=cfg.max_size if cfg.max_size and cfg.max_size > 0 else None)
    return raw, hm

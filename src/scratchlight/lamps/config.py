"""The configuration of ``scratchlight lamps``: nested, saved as ``run.json``, replayable."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..errors import InputError
from ..optimize.config import LightConfig
from ..scene import SceneSpec
from ..surface import SurfaceConfig
from .geometry import KINDS

__all__ = ["RigConfig", "LampsConfig", "read_light", "resolve_light"]


@dataclasses.dataclass
class RigConfig:
    """How the light becomes lamps or dome channels (angles in degrees)."""

    count: int | None = None
    """Lamps of the exported rig; None: the recommended count."""
    max_count: int = 8
    """The report covers K = 1 .. max_count lamps (and ``count``)."""
    kind: str = "disc"
    """disc (a small area lamp) or bar (a line/bar light)."""
    dome: str | None = None
    """A dome layout CSV (or a built-in layout's name): fit the channels' levels instead."""
    iterations: int = 150
    """Adam steps of each lamp fit."""
    lr: float = 0.1
    """Adam learning rate, in texel spacings (angles) and mean initial powers."""
    threshold: float = 0.1
    """Texels at or above this fraction of the brightest form the light's clusters."""
    tolerance: float = 0.05
    """Recommend the smallest K whose objective is within this fraction of the full map's."""
    min_elevation: float = 0.0
    """Lowest lamp centre above the part's plane."""
    min_diameter: float = 2.0
    """Smallest angular diameter (width of a bar)."""
    max_diameter: float = 40.0
    """Largest angular diameter."""
    max_length: float = 120.0
    """Longest bar."""

    def validate(self) -> None:
        checks = [
            (self.count is None or self.count >= 1, "lamps.count",
             f"must be at least 1, got {self.count}"),
            (self.max_count >= 1, "lamps.max_count", f"must be at least 1, got {self.max_count}"),
            (max(self.count or 0, self.max_count) <= 32, "lamps.count", "at most 32 lamps"),
            (self.kind in KINDS, "lamps.kind", f"must be one of {', '.join(KINDS)}, got {self.kind!r}"),
            (self.iterations >= 0, "lamps.iterations", f"must be >= 0, got {self.iterations}"),
            (self.lr > 0, "lamps.lr", f"must be positive, got {self.lr}"),
            (0 < self.threshold < 1, "lamps.threshold", f"must be in (0, 1), got {self.threshold}"),
            (self.tolerance >= 0, "lamps.tolerance", f"must be >= 0, got {self.tolerance}"),
            (0 <= self.min_elevation < 90, "lamps.min_elevation",
             f"must be in [0, 90) degrees, got {self.min_elevation}"),
            (0 < self.min_diameter <= self.max_diameter <= 90, "lamps.min_diameter",
             f"need 0 < min_diameter <= max_diameter <= 90 degrees, got {self.min_diameter}, "
             f"{self.max_diameter}"),
            (self.max_length >= self.min_diameter, "lamps.max_length",
             f"must be at least min_diameter, got {self.max_length}"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)

    @property
    def counts(self) -> list[int]:
        return sorted(set(range(1, self.max_count + 1)) | ({self.count} if self.count else set()))


def _default_scene() -> SceneSpec:
    return SceneSpec(exaggeration="auto", width=256, height=256)


@dataclasses.dataclass
class LampsConfig:
    """Everything ``scratchlight lamps`` depends on; saved as ``run.json``."""

    source: str = ""
    """The light: an environment map (.exr .hdr .png), lat-long, row 0 the zenith."""
    surface: SurfaceConfig = dataclasses.field(default_factory=SurfaceConfig)
    """The height-map file and how it is prepared."""
    scene: SceneSpec = dataclasses.field(default_factory=_default_scene)
    """Metal, exaggeration, camera, image size and path depth."""
    light: LightConfig = dataclasses.field(default_factory=LightConfig)
    """The objective (mask, lam, l2_target and the scratch-map settings)."""
    lamps: RigConfig = dataclasses.field(default_factory=RigConfig)
    """Lamps or dome channels."""
    spp: int = 16
    """Paths per pixel of each of the transport engine's two matrices."""
    final_spp: int = 128
    """Samples per pixel of the Mitsuba renders the rigs are judged on."""
    seeds: int = 1
    """Independent renders per rig for the visibility metrics."""
    seed: int = 0
    """Seed of the transport matrices and of the renders."""
    device: str = "auto"
    """auto, cpu or cuda."""

    def validate(self) -> None:
        if not self.source:
            raise InputError("light", "give the light: a results folder or an environment map")
        self.surface.validate()
        self.scene.validate()
        self.light.validate()
        self.lamps.validate()
        for name in ("spp", "final_spp", "seeds"):
            if getattr(self, name) < 1:
                raise InputError(name, f"must be at least 1, got {getattr(self, name)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError("device", f"must be auto, cpu or cuda, got {self.device!r}")


def resolve_light(path: str) -> tuple[str, str | None]:
    """(envmap file, run.json or None) of a results folder or an envmap file."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        env = os.path.join(path, "envmap.exr")
        if not os.path.isfile(env):
            raise InputError(path, "is a folder without envmap.exr (not a results folder)")
        run = os.path.join(path, "run.json")
        return env, run if os.path.isfile(run) else None
    return path, None


def read_light(path: str) -> np.ndarray:
    """The light as a gray (H, W) float64 map: RGB maps by their Rec. 709 luminance.
    A lat-long map has twice as many columns as rows (25 x 50); anything else is refused."""
    from ..io import read_envmap
    from ..objectives import luminance

    E = read_envmap(path)
    H, W = E.shape[:2]
    if W != 2 * H or H < 4:
        raise InputError(path, f"light of {H} x {W} texels (rows x columns): a lat-long map "
                               f"has twice as many columns as rows and at least 4 rows, "
                               f"e.g. 25 x 50")
    return luminance(E)

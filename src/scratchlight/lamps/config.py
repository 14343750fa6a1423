"""The configuration of ``scratchlight lamps``: nested, saved as ``run.json``, replayable."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..errors import InputError
from ..optimize.config import LightConfig
from ..options import check_declared, option
from ..scene import SceneSpec
from ..surface import SurfaceConfig
from .geometry import KINDS

__all__ = ["RigConfig", "LampsConfig", "read_light", "resolve_light"]


@dataclasses.dataclass
class RigConfig:
    """How the light becomes lamps or dome channels (angles in degrees)."""

    count: int | None = option(None, "lamps of the exported rig (default: the recommended "
                                     "count)", lo=1, hi=32)
    """Lamps of the exported rig; None: the recommended count."""
    max_count: int = option(8, "report K = 1 .. this many lamps", lo=1, hi=32)
    """The report covers K = 1 .. max_count lamps (and ``count``)."""
    kind: str = option("disc", "disc: small area lamp; bar: line/bar light", choices=KINDS)
    """disc (a small area lamp) or bar (a line/bar light)."""
    dome: str | None = option(None, "optimize the levels of an LED dome's channels instead (a "
                                    "layout CSV, or 'ring-dome' for the built-in one)",
                              metavar="LAYOUT.csv", path=os.path.exists)
    """A dome layout CSV (or a built-in layout's name): fit the channels' levels instead."""
    iterations: int = option(150, "Adam steps per fit", lo=0, hi=100_000)
    """Adam steps of each lamp fit."""
    lr: float = option(0.1, "Adam learning rate in texel spacings", lo=0.0, lo_open=True)
    """Adam learning rate, in texel spacings (angles) and mean initial powers."""
    threshold: float = option(0.1, "texels at >= this fraction of the brightest form clusters",
                              lo=0.0, hi=1.0)
    """Texels at or above this fraction of the brightest form the light's clusters."""
    tolerance: float = option(0.05, "recommend the smallest K within this fraction of the full "
                                    "map's objective", lo=0.0, cli=False)
    """Recommend the smallest K whose objective is within this fraction of the full map's."""
    min_elevation: float = option(0.0, "lowest lamp above the part's plane, degrees", lo=0.0,
                                  hi=90.0)
    """Lowest lamp centre above the part's plane."""
    min_diameter: float = option(2.0, "degrees", lo=0.0, lo_open=True, hi=90.0)
    """Smallest angular diameter (width of a bar)."""
    max_diameter: float = option(40.0, "degrees", lo=0.0, lo_open=True, hi=90.0)
    """Largest angular diameter."""
    max_length: float = option(120.0, "longest bar, degrees", lo=0.0, hi=360.0, cli=False)
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
        check_declared(self, "lamps.")

    @property
    def counts(self) -> list[int]:
        return sorted(set(range(1, self.max_count + 1)) | ({self.count} if self.count else set()))


def _default_scene() -> SceneSpec:
    return SceneSpec(exaggeration="auto", width=256, height=256)


@dataclasses.dataclass
class LampsConfig:
    """Everything ``scratchlight lamps`` depends on; saved as ``run.json``."""

    source: str = option("", "a results folder of 'optimize' (its envmap.exr, scene and "
                             "objective) or an environment map (.exr .hdr .png, 2:1 lat-long)",
                         name="light", flag="light")
    """The light: an environment map (.exr .hdr .png), lat-long, row 0 the zenith."""
    surface: SurfaceConfig = dataclasses.field(default_factory=SurfaceConfig)
    """The height-map file and how it is prepared."""
    scene: SceneSpec = dataclasses.field(default_factory=_default_scene)
    """Metal, exaggeration, camera, image size and path depth."""
    light: LightConfig = dataclasses.field(default_factory=LightConfig)
    """The objective (mask, lam, l2_target and the scratch-map settings)."""
    lamps: RigConfig = dataclasses.field(default_factory=RigConfig)
    """Lamps or dome channels."""
    spp: int = option(16, "samples per pixel (paths per pixel of each transport matrix)",
                      lo=1, hi=4096)
    """Paths per pixel of each of the transport engine's two matrices."""
    final_spp: int = option(128, "spp of the Mitsuba renders every rig is judged on", lo=1,
                            hi=65536)
    """Samples per pixel of the Mitsuba renders the rigs are judged on."""
    seeds: int = option(1, "renders per rig for the metrics", lo=1, hi=1024)
    """Independent renders per rig for the visibility metrics."""
    seed: int = option(0, "random seed", lo=0, hi=2 ** 31 - 1)
    """Seed of the transport matrices and of the renders."""
    device: str = option("auto", "cuda when a GPU is usable (auto), else cpu",
                         choices=("auto", "cpu", "cuda"))
    """auto, cpu or cuda."""

    def validate(self) -> None:
        if not self.source:
            raise InputError("light", "give the light: a results folder or an environment map")
        self.surface.validate()
        self.scene.validate()
        self.light.validate()
        self.lamps.validate()
        check_declared(self)


def resolve_light(path: str) -> tuple[str, str | None]:
    """(envmap file, run.json or None) of a results folder or an envmap file; for the
    folder of a multi-shot run, its first shot's map (``lamps.sequence`` runs them all)."""
    path = os.path.abspath(path)
    if os.path.isdir(path):
        env = os.path.join(path, "envmap.exr")
        if not os.path.isfile(env) and os.path.isfile(os.path.join(path, "envmap_shot1.exr")):
            env = os.path.join(path, "envmap_shot1.exr")  # a sequence (``lamps.sequence``)
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

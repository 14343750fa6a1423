"""One dataclass describes an optimization run; it is saved as ``run.json`` beside the
results, and ``scratchlight optimize --config DIR/run.json`` repeats the run."""
from __future__ import annotations

import dataclasses
import json
from typing import Any

__all__ = ["OptimizeConfig"]


@dataclasses.dataclass
class OptimizeConfig:
    # --- input ---------------------------------------------------------------
    heightmap: str = ""
    """Height-map file to optimize the light for."""
    max_size: int = 1024
    """Resample the grid so neither side exceeds this many points (0 keeps it)."""
    level: bool = True
    """Subtract the best-fit plane before rendering."""
    crop: tuple[int, int, int, int] | None = None
    """Window (x0, y0, nx, ny) of the grid to keep, in cells."""
    # --- scene ---------------------------------------------------------------
    material: str = "aluminium"
    """Metal preset: aluminium, steel, copper, chrome."""
    roughness: float = 0.02
    """GGX alpha of the metal (0 = mirror)."""
    exaggeration: float | str = "auto"
    """Factor on heights (1 = true proportions), or 'auto' (99th-percentile slope 0.15 rad)."""
    camera: str = "oblique"
    """Camera preset: oblique (45 degrees), top (orthographic) or custom."""
    elevation: float = 45.0
    """Oblique camera elevation, degrees."""
    azimuth: float = 0.0
    """Oblique camera azimuth, degrees."""
    fov: float = 30.0
    """Horizontal field of view, degrees."""
    camera_origin: tuple[float, float, float] | None = None
    """Custom camera position in scene units (longer side of the surface spans -1..1)."""
    camera_target: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Custom camera target in scene units."""
    width: int = 256
    """Image width in pixels."""
    height: int = 256
    """Image height in pixels."""
    max_depth: int = 3
    """Path depth: 2 = direct light only, 3 = one interreflection."""
    # --- light and objective -------------------------------------------------
    color: str = "gray"
    """gray: one channel drives R, G and B (the paper's default); rgb: three channels."""
    envmap_size: tuple[int, int] = (25, 50)
    """Environment map (rows, columns), lat-long."""
    init: str = "constant:0.5"
    """Initial light: constant[:V], random, specular, or an image file (gray by CIE L*)."""
    mask: str = "object"
    """Pixels that count: object, scratch (the scratch map), or a PNG in height-map
    coordinates; always intersected with the object mask."""
    scratch_kernel: int = 21
    """Scratch map: moving-average kernel, cells."""
    scratch_patch: int = 40
    """Scratch map: patch size, cells."""
    scratch_threshold: float = 0.03
    """Scratch map: patch range threshold on the [0, 1]-scaled detrended map."""
    l2_target: str = "env"
    """L2 term on the envmap (env, the paper's), on the image (image), or none."""
    lam: float | None = None
    """Weight of the L2 term; None = 30 for gray, 10 for rgb (the paper's values)."""
    # --- optimizer -----------------------------------------------------------
    lr: float = 0.02
    """Adam learning rate."""
    iterations: int = 100
    """Number of Adam steps."""
    spp: int = 16
    """Samples per pixel of each iteration's render (primal and gradient each)."""
    final_spp: int = 256
    """Samples per pixel of the before/after renders the result is judged on."""
    engine: str = "ad"
    """ad: Mitsuba differentiable rendering per iteration; transport: precomputed T."""
    seed: int = 0
    """Seed of every random choice of the run."""
    device: str = "auto"
    """auto, cpu or cuda."""

    @property
    def effective_lam(self) -> float:
        if self.lam is not None:
            return float(self.lam)
        return 30.0 if self.color == "gray" else 10.0

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OptimizeConfig":
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(d) - set(names)
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(sorted(unknown))}")
        kw = {}
        for k, v in d.items():
            kw[k] = tuple(v) if isinstance(v, list) else v
        return cls(**kw)

    @classmethod
    def from_json(cls, path: str) -> "OptimizeConfig":
        from ..errors import InputError

        try:
            with open(path) as f:
                d = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(path, f"cannot read config: {e}") from None
        try:
            return cls.from_dict(d.get("config", d))
        except (TypeError, ValueError) as e:
            raise InputError(path, str(e)) from None

    def validate(self) -> None:
        """Raise InputError for a value no run can use."""
        from ..errors import InputError
        from ..objectives import L2_TARGETS

        checks = [
            (self.color in ("gray", "rgb"), "--color", f"must be gray or rgb, got {self.color!r}"),
            (self.l2_target in L2_TARGETS, "--l2-target", f"must be one of {', '.join(L2_TARGETS)}"),
            (self.lam is None or self.lam >= 0, "--lam", f"must be >= 0, got {self.lam}"),
            (self.lr > 0, "--lr", f"must be positive, got {self.lr}"),
            (self.exaggeration == "auto" or (isinstance(self.exaggeration, (int, float))
                                              and self.exaggeration > 0), "--exaggeration",
             f"must be a positive number or 'auto', got {self.exaggeration!r}"),
            (self.iterations >= 1, "--iterations", f"must be at least 1, got {self.iterations}"),
            (self.envmap_size[0] >= 4 and self.envmap_size[1] >= 8, "--envmap-size",
             f"must be at least 4 x 8, got {self.envmap_size[0]} x {self.envmap_size[1]}"),
            (self.spp >= 1, "--spp", f"must be at least 1, got {self.spp}"),
            (self.final_spp >= 1, "--final-spp", f"must be at least 1, got {self.final_spp}"),
            (self.scratch_kernel >= 1, "--scratch-kernel", "must be at least 1"),
            (self.scratch_patch >= 1, "--scratch-patch", "must be at least 1"),
            (0 <= self.scratch_threshold <= 1, "--scratch-threshold", "must be in [0, 1]"),
        ]
        for ok, option, problem in checks:
            if not ok:
                raise InputError(option, problem)

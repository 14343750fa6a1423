"""The configuration of an optimization run: nested, every field documented, replayable.

``OptimizeConfig`` nests the surface (``surface.SurfaceConfig``), the scene and camera
(``scene.SceneSpec``, saved as it is, not copied field by field), the light and objective
(:class:`LightConfig`) and the optimizer (:class:`OptimizerConfig`). It is saved under
``"config"`` in ``run.json`` beside the results; ``scratchlight optimize --config
DIR/run.json`` repeats the run.

Flat *options* (the names of the command-line flags without dashes: ``resolution``,
``iterations``, ``lam``, ``camera``, ...) address fields of the nested config through
:data:`OPTION_FIELDS`; ``OptimizeConfig.from_options(heightmap=..., iterations=20)`` builds a
config from them, and ``with_options`` changes some. Batch plans and the paper study use
them, and the CLI maps a field back to its flag for error messages.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from ..config import config_from_dict, config_to_dict, read_config, replace_field
from ..errors import InputError
from ..scene import SceneSpec
from ..surface import SurfaceConfig

__all__ = ["LightConfig", "OptimizerConfig", "OptimizeConfig", "OPTION_FIELDS", "ENGINE_NAMES"]

ENGINE_NAMES = ("auto", "ad", "transport")


@dataclasses.dataclass
class LightConfig:
    """The light being optimized and the objective it is judged by (paper section 4)."""

    color: str = "gray"
    """gray: one channel drives R, G and B (the paper's default); rgb: three channels."""
    envmap_size: tuple[int, int] = (25, 50)
    """Environment map (rows, columns), lat-long; row 0 is the zenith."""
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
    objective: str = "gradient"
    """gradient: the paper's L_grad over the mask; defect-contrast: the gradients inside
    the mask (scratch map or a region, the prior of where defects are) relative to the
    rest of the surface."""

    @property
    def effective_lam(self) -> float:
        """``lam``, or the paper's value for the colour mode when it is None."""
        if self.lam is not None:
            return float(self.lam)
        return 30.0 if self.color == "gray" else 10.0

    @property
    def channels(self) -> int:
        """Channels of E: 1 for gray, 3 for rgb."""
        return 1 if self.color == "gray" else 3

    def validate(self) -> None:
        """Raise InputError naming the field (``light.<name>``) for an unusable value."""
        from ..objectives import L2_TARGETS, OBJECTIVES

        h, w = self.envmap_size
        checks = [
            (self.color in ("gray", "rgb"), "light.color", f"must be gray or rgb, got {self.color!r}"),
            (self.l2_target in L2_TARGETS, "light.l2_target",
             f"must be one of {', '.join(L2_TARGETS)}, got {self.l2_target!r}"),
            (self.lam is None or 0 <= self.lam < math.inf, "light.lam",
             f"must be a finite number >= 0, got {self.lam}"),
            (self.objective in OBJECTIVES, "light.objective",
             f"must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"),
            (self.objective != "defect-contrast" or self.mask != "object", "light.objective",
             "defect-contrast needs a prior of where defects are: --mask scratch or a region"),
            (h >= 4 and w >= 8, "light.envmap_size", f"must be at least 4 x 8, got {h} x {w}"),
            (h <= 1024 and w <= 2048, "light.envmap_size",
             f"must be at most 1024 x 2048, got {h} x {w}"),
            (self.scratch_kernel >= 1, "light.scratch_kernel", "must be at least 1"),
            (self.scratch_patch >= 1, "light.scratch_patch", "must be at least 1"),
            (0 <= self.scratch_threshold <= 1, "light.scratch_threshold", "must be in [0, 1]"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)


@dataclasses.dataclass
class OptimizerConfig:
    """The optimization loop: Adam on E, clamped to [0, 1] (paper section 5)."""

    lr: float = 0.02
    """Adam learning rate."""
    iterations: int = 100
    """Number of Adam steps."""
    spp: int = 16
    """Samples per pixel of each iteration's render (primal and gradient each)."""
    final_spp: int = 256
    """Samples per pixel of the before/after renders the result is judged on."""
    engine: str = "auto"
    """auto: transport when its matrices fit ``memory_budget_gib``, else ad (measured by a
    pilot, ``engines.choice``); ad: Mitsuba differentiable rendering per iteration (the
    paper's exact loop); transport: precomputed transport matrices T."""
    memory_budget_gib: float | None = None
    """engine 'auto': the memory (GiB) the transport matrices may take, peak of the build
    included; None for a quarter of the machine's memory."""
    transport_noise: str = "matched"
    """Transport engine only: 'matched' adds to each iteration's image the Monte Carlo noise
    a Mitsuba render would have (measured once, at the first iteration on T), so runs from any start reach
    the AD engine's result; 'none' keeps T's deterministic images."""
    transport_warmup: int = 5
    """Transport engine only: how many of the run's first iterations render with Mitsuba at
    a quarter of ``spp`` (4 for 16) instead of T (0 for none). The first steps decide where a run goes,
    and T's gradient is imprecise for weakly reflected texels; ~0.4 s per iteration at
    512^2."""

    def validate(self) -> None:
        """Raise InputError naming the field (``optimizer.<name>``) for an unusable value."""
        checks = [
            (0 < self.lr < math.inf, "optimizer.lr", f"must be a finite positive number, got {self.lr}"),
            (self.iterations >= 1, "optimizer.iterations", f"must be at least 1, got {self.iterations}"),
            (self.spp >= 1, "optimizer.spp", f"must be at least 1, got {self.spp}"),
            (self.final_spp >= 1, "optimizer.final_spp", f"must be at least 1, got {self.final_spp}"),
            (self.engine in ENGINE_NAMES, "optimizer.engine",
             f"unknown engine {self.engine!r}; choose from {', '.join(ENGINE_NAMES)}"),
            (self.memory_budget_gib is None or 0 < self.memory_budget_gib < math.inf,
             "optimizer.memory_budget_gib",
             f"must be a positive number of GiB, got {self.memory_budget_gib}"),
            (self.transport_noise in ("matched", "none"), "optimizer.transport_noise",
             f"must be matched or none, got {self.transport_noise!r}"),
            (0 <= self.transport_warmup < 2 ** 31, "optimizer.transport_warmup",
             f"must be 0 or more iterations, got {self.transport_warmup}"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)

    @property
    def memory_budget_bytes(self) -> int | None:
        """``memory_budget_gib`` in bytes (None: the default budget)."""
        if self.memory_budget_gib is None:
            return None
        return int(self.memory_budget_gib * 2 ** 30)


def _default_scene() -> SceneSpec:
    return SceneSpec(exaggeration="auto", width=256, height=256)


@dataclasses.dataclass
class OptimizeConfig:
    """Everything an optimization run depends on; saved as ``run.json``."""

    surface: SurfaceConfig = dataclasses.field(default_factory=SurfaceConfig)
    """The height-map file and how it is prepared."""
    scene: SceneSpec = dataclasses.field(default_factory=_default_scene)
    """Metal, exaggeration, camera, image size and path depth."""
    light: LightConfig = dataclasses.field(default_factory=LightConfig)
    """The light being optimized and the objective."""
    optimizer: OptimizerConfig = dataclasses.field(default_factory=OptimizerConfig)
    """Adam settings, samples per pixel and the engine."""
    seed: int = 0
    """Seed of every random choice of the run."""
    device: str = "auto"
    """auto, cpu or cuda."""

    def validate(self) -> None:
        """Raise InputError naming the first unusable field by its dotted path."""
        self.surface.validate()
        self.scene.validate()
        self.light.validate()
        self.optimizer.validate()
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError("device", f"must be auto, cpu or cuda, got {self.device!r}")

    def to_dict(self) -> dict[str, Any]:
        return config_to_dict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "OptimizeConfig":
        """From a nested dictionary; a flat one (run.json of version 0.1) is read as options."""
        if "surface" not in d and ("heightmap" in d or "iterations" in d):
            return cls.from_options(**d)
        return config_from_dict(cls, d)

    @classmethod
    def from_json(cls, path: str) -> "OptimizeConfig":
        """The config saved in a ``run.json`` (nested, or the flat form of version 0.1)."""
        import json

        try:
            with open(path) as f:
                doc = json.load(f)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(path, f"cannot read config: {e}") from None
        data = doc.get("config", doc) if isinstance(doc, dict) else doc
        if isinstance(data, dict) and "surface" not in data and "heightmap" in data:
            try:
                return cls.from_options(**data)
            except InputError as e:
                raise InputError(path, f"{e.path}: {e.problem}") from None
        return read_config(path, cls, command="optimize")

    @classmethod
    def from_options(cls, **options) -> "OptimizeConfig":
        """A config from flat options (``OPTION_FIELDS``), the rest at their defaults."""
        return cls().with_options(**options)

    def with_options(self, **options) -> "OptimizeConfig":
        """A copy with flat options (``OPTION_FIELDS`` names) changed."""
        cfg = self
        for name, value in options.items():
            if name == "resolution":
                w, h = (value, value) if isinstance(value, int) else tuple(value)
                cfg = replace_field(replace_field(cfg, "scene.width", int(w)), "scene.height", int(h))
                continue
            if name not in OPTION_FIELDS:
                raise InputError(name, "unknown option")
            if isinstance(value, list):
                value = tuple(value)
            cfg = replace_field(cfg, OPTION_FIELDS[name], value)
        return cfg


# Flat option name (the CLI flag without dashes) -> dotted field of OptimizeConfig.
OPTION_FIELDS: dict[str, str] = {
    "heightmap": "surface.path", "max_size": "surface.max_size", "level": "surface.level",
    "crop": "surface.crop",
    "material": "scene.material", "roughness": "scene.roughness",
    "exaggeration": "scene.exaggeration", "camera": "scene.camera.preset",
    "elevation": "scene.camera.elevation_deg", "azimuth": "scene.camera.azimuth_deg",
    "fov": "scene.camera.fov_deg", "camera_origin": "scene.camera.origin",
    "camera_target": "scene.camera.target", "width": "scene.width", "height": "scene.height",
    "max_depth": "scene.max_depth",
    **{k: f"light.{k}" for k in ("color", "envmap_size", "init", "mask", "scratch_kernel",
                                  "scratch_patch", "scratch_threshold", "l2_target", "lam",
                                  "objective")},
    **{k: f"optimizer.{k}" for k in ("lr", "iterations", "spp", "final_spp", "engine",
                                      "transport_noise", "transport_warmup",
                                      "memory_budget_gib")},
    "seed": "seed", "device": "device",
}

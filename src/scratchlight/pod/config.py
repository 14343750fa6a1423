"""``PodConfig``: everything a ``pod`` run depends on, saved as its ``run.json``."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from ..errors import InputError
from ..options import check_declared, config_from_options, option
from ..scene import SceneSpec
from ..surface import SurfaceConfig
from ..surface.synthetic import KINDS
from .camera import CameraModel

__all__ = ["PodConfig", "light_label", "light_array", "OBSERVERS", "LINKS"]

OBSERVERS = ("npw", "cho")
LINKS = ("logit", "probit")
"""Links of the hit/miss GLM on ln a (``fit``)."""


def _scene_pod() -> SceneSpec:
    return SceneSpec(width=128, height=128, exaggeration=1.0)


def _is_uniform(text: str) -> bool:
    return text == "uniform" or text.startswith("uniform:")


def _is_light_file(text: str) -> bool:
    return not (text == "studio" or _is_uniform(text))


@dataclasses.dataclass
class PodConfig:
    """``scratchlight pod``: POD of planted scratches under one or several lights.

    The surface is a synthetic ``kind`` (``surface.path`` empty) or a height-map file whose
    prepared grid gets the scratches. Sizes are in micrometres, orientations in degrees.
    """

    surface: SurfaceConfig = dataclasses.field(
        default_factory=lambda: SurfaceConfig(path="", max_size=256))
    """A measured height map to plant the scratches on (empty: a synthetic ``kind``)."""
    scene: SceneSpec = dataclasses.field(default_factory=_scene_pod)
    """Metal, camera, image size; true proportions (exaggeration 1) by default."""
    camera: CameraModel = dataclasses.field(default_factory=CameraModel)
    """The inspection camera's exposure and noise."""
    kind: str = option("face-mill", "synthetic surface kind (without a height-map file)",
                       choices=KINDS)
    """Synthetic surface kind, used when no height-map file is given."""
    size: int = option(192, "synthetic surface: grid points per side (5 um spacing)", lo=48,
                       hi=4096)
    """Grid points per side of the synthetic surface (spacing 5 um)."""
    lights: tuple[str, ...] = option(("uniform",), "light(s): an environment map file, "
                                     "uniform[:V] (default radiance 0.5) or studio (the "
                                     "studio preset); several give one POD each",
                                     name="light", metavar="LIGHT", many=True,
                                     path=_is_light_file)
    """Lights: environment-map files (.exr .hdr .png), ``uniform[:V]`` or ``studio``."""
    depths_um: tuple[float, ...] = option((0.25, 0.5, 1.0, 2.0, 4.0), "scratch depths swept, "
                                          "micrometres", name="depths", metavar="UM,UM,...")
    """Scratch depths swept, micrometres."""
    widths_um: tuple[float, ...] = option((30.0,), "scratch widths swept, micrometres",
                                          name="widths", metavar="UM,UM,...")
    """Scratch widths swept, micrometres (every depth with every width)."""
    orientations_deg: tuple[float, ...] = option((0.0, 30.0, 60.0, 90.0, 120.0, 150.0),
                                                 "scratch orientations swept, degrees from the "
                                                 "x axis", name="orientations",
                                                 metavar="DEG,DEG,...")
    """Orientations swept, degrees in [0, 180) from the grid's x axis towards +y."""
    seeds: int = option(2, "surfaces (seeds SEED .. SEED+N-1) every defect is planted on",
                        lo=1, hi=1000)
    """Surface seeds: the whole sweep is planted on each."""
    size_by: str = option("depth", "the size a of POD(a)", choices=("depth", "width"))
    """Which dimension is the size a of POD(a)."""
    grid: int = option(3, "scratches per side of a plate (GRID x GRID per render)", lo=1, hi=8)
    """Scratches per side of a plate: each render holds up to grid^2 of them."""
    profile: str = option("v", "scratch cross-section", choices=("v", "round"))
    """Scratch cross-section: V or round."""
    observer: str = option("npw", "model observer whose d' decides hit or miss",
                           choices=OBSERVERS)
    """Observer whose d' decides: non-prewhitening (npw) or channelized Hotelling (cho)."""
    threshold: float = option(2.0, "d' at or above which a defect is a hit", lo=0.0,
                              lo_open=True)
    """Detection threshold on d' (hit: d' >= threshold); also the decision level of â."""
    window: int = option(12, "side of the observer's window, pixels", lo=4, hi=256)
    """Side of the observer's square window, pixels."""
    link: str = option("logit", "GLM link of POD(a)", choices=LINKS)
    """Link of the hit/miss GLM on ln a: logit or probit."""
    bound: str = option("lr", "a90/95 by likelihood ratio (lr) or the Wald/delta method",
                        choices=("lr", "wald"))
    """How a90/95 and the band are bounded."""
    engine: str = option("auto", "ad: a Mitsuba render per light and plate; transport: one "
                                 "matrix per plate, then each light by relighting; auto: "
                                 "transport from 3 lights on", choices=("auto", "ad", "transport"))
    """Renders per light (ad) or one transport matrix per plate relit per light."""
    spp: int = option(32, "samples per pixel of each render (or transport matrix)", lo=1,
                      hi=65536)
    """Samples per pixel of each render or transport matrix."""
    renders: int = option(2, "independent renders (seeds) of each plate and twin per light; "
                             "2 keeps render noise out of the observer's signal", lo=1, hi=16)
    """Renders per plate, twin and light with different seeds; the camera frames alternate
    between them, so with 2 the observer's half-estimates of the signal have independent
    Monte Carlo noise."""
    seed: int = option(0, "random seed (surfaces, placement, camera noise)", lo=0,
                       hi=2 ** 31 - 1)
    """Seed of the surfaces (seed .. seed + seeds - 1), placements and camera noise."""
    device: str = option("auto", "cuda when a GPU is usable (auto), else cpu",
                         choices=("auto", "cpu", "cuda"))
    """auto, cpu or cuda."""

    def validate(self) -> None:
        """Raise InputError naming the field of the first unusable value."""
        check_declared(self)
        if self.surface.path:
            self.surface.validate()
        self.scene.validate()
        self.camera.validate()
        if self.camera.frames < self.renders:
            raise InputError("camera.frames", f"need a frame of every render: at least "
                                              f"{self.renders}, got {self.camera.frames}")
        for name, values, lo in (("depths_um", self.depths_um, 0.0),
                                 ("widths_um", self.widths_um, 0.0)):
            if not values or not all(np.isfinite(v) and v > lo for v in values):
                raise InputError(name, f"need at least one positive size, got {values}")
        if not self.orientations_deg or not all(0.0 <= v < 180.0 for v in self.orientations_deg):
            raise InputError("orientations_deg", "need orientations in [0, 180) degrees, got "
                                                 f"{self.orientations_deg}")
        sizes = self.depths_um if self.size_by == "depth" else self.widths_um
        if len(set(sizes)) < 2:
            raise InputError("depths_um" if self.size_by == "depth" else "widths_um",
                             "POD against size needs at least two sizes")
        if not self.lights:
            raise InputError("lights", "give at least one light")
        for text in self.lights:
            light_array(text, check_only=True)

    @classmethod
    def from_options(cls, **options):
        """A config from flat options named like the command's flags without dashes
        (``kind``, ``depths``, ``light``, ``resolution``, ...), the rest at defaults."""
        return config_from_options(cls, options)


def light_label(text: str) -> str:
    """A short name of a light: the file's stem, 'uniform:0.5' or 'studio'."""
    if not _is_light_file(text):
        return "uniform:0.5" if text == "uniform" else text
    return os.path.splitext(os.path.basename(text))[0]


def light_array(text: str, check_only: bool = False) -> np.ndarray | None:
    """(H, W, 3) float32 linear radiance of a light given as text (see ``PodConfig.lights``)."""
    from ..scene import constant_envmap, studio_envmap

    if text == "studio":
        return None if check_only else studio_envmap((25, 50))
    if _is_uniform(text):
        value = text.partition(":")[2] or "0.5"
        try:
            v = float(value)
        except ValueError:
            v = -1.0
        if not (np.isfinite(v) and v >= 0):
            raise InputError("lights", f"uniform:V needs a radiance V >= 0, got {text!r}")
        return None if check_only else constant_envmap(v, (25, 50), channels=3)
    if not os.path.isfile(text):
        raise InputError(text, "no such light file")
    if check_only:
        return None
    from ..io import read_envmap

    return read_envmap(text)

"""What a fit does: ``FitConfig`` (the optimizer and pixel sampling) and ``FitRunConfig``
(a whole ``scratchlight fit`` run: surface, scene, cameras, targets, light, ``FitConfig``).

``FitRunConfig`` is saved under ``"config"`` in the run's ``run.json`` (``config_to_dict``)
and read back with ``read_config(path, FitRunConfig, command="fit")``, so that
``scratchlight fit --config DIR/run.json`` repeats the run. ``validate`` raises
``InputError`` whose ``path`` is the dotted field at fault (``fit.budget``,
``surface.crop``, ``cameras``); only the command line translates fields into ``--flags``.
"""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from ..options import check_declared, option
from ..scene.materials import MATERIALS
from ..surface.config import SurfaceConfig
from .losses import LOSSES
from .sampling import SAMPLINGS, check_budget

__all__ = ["FitConfig", "FitRunConfig", "FIT_PARAMS", "COLORS", "DEVICES"]

FIT_PARAMS = ("envmap", "roughness")
"""The parameters a fit can recover."""
COLORS = ("gray", "rgb")
"""Light colour models: one channel driving R, G and B, or three channels."""
DEVICES = ("auto", "cpu", "cuda")
"""Where Mitsuba renders (``scratchlight.use_device``)."""


@dataclasses.dataclass
class FitConfig:
    """How to fit: the parameters, Adam and the pixel sampling (the ``fit`` part of a run's
    config)."""

    params: tuple[str, ...] = option(FIT_PARAMS, "what to fit: envmap, roughness or both")
    """Parameters to fit: envmap and/or roughness."""
    sampling: str = option("adaptive", "pixels per iteration: full, uniform, grad (|dL/dI|) "
                                       "or adaptive")
    """Pixel sampling: full, uniform, grad (|dL/dI|) or adaptive."""
    budget: float = option(0.125, "fraction of the pixels rendered per iteration", lo=0.0,
                           lo_open=True, hi=1.0)
    """Fraction of all pixels (of all views) rendered per iteration (ignored by full)."""
    iterations: int = option(200, "Adam steps", lo=1, hi=100_000)
    """Adam steps."""
    lr: float = option(0.02, "Adam learning rate", lo=0.0, lo_open=True)
    """Adam learning rate of the envmap."""
    lr_roughness: float | None = option(None, "learning rate of the roughness (default --lr)",
                                        lo=0.0, lo_open=True)
    """Adam learning rate of the roughness (None: same as lr)."""
    loss: str = option("l2", "l2 or rel-l2")
    """Image loss: l2 or rel-l2."""
    spp: int = option(8, "samples per rendered pixel per iteration", lo=1, hi=4096)
    """Samples per rendered pixel per iteration (primal and adjoint each)."""
    seed: int = option(0, "random seed", lo=0, hi=2 ** 31 - 1)
    """Seed of every random choice (pixels, render seeds; in a whole run also the initial
    light, the truth's visibility weights and the final render)."""
    refresh: int = option(20, "iterations between refreshes of the adaptive sampling maps",
                          lo=1)
    """Iterations between refreshes of the grad/adaptive sampling maps."""
    floor: float = option(0.1, "uniform mixing weight of the adapted samplers", lo=0.0,
                          lo_open=True, hi=1.0, cli=False)
    """Uniform mixing weight of the adapted samplers (every p > 0)."""
    levels: int = option(4, "pyramid levels of the adaptive sampler", lo=1, hi=16, cli=False)
    """Pyramid levels D of the adaptive sampler."""
    level_base: float = option(4.0, "level weight base of the adaptive sampler's pyramid",
                               lo=0.0, lo_open=True, cli=False)
    """Level weight base of the adaptive sampler's pyramid (weight base**d)."""
    refresh_factor: int = option(2, "block size of the refresh pass", lo=1, cli=False)
    """Block size (resolution divisor) of the refresh pass."""
    refresh_spp: int = option(2, "samples per pixel of the map-refresh renders", lo=1)
    """Samples per block per direction of the refresh pass."""
    refresh_pairs: int = option(4, "pairs of renders per map refresh, one random direction "
                                   "each", lo=1)
    """Pairs of renders (one Rademacher direction each) of the refresh pass."""
    precondition: bool = option(False, "weight the parameter terms by Adam's 1/v", cli=False)
    """Weight p2's parameter terms by Adam's 1/v (the variance of the update, not of the
    raw gradient); False is the method as published."""
    cost_aware: bool = option(False, "adapted samplers divide the importance by sqrt(measured "
                                     "per-pixel render cost): surface pixels cost several "
                                     "times more than background")
    """Divide the adapted importance by sqrt(measured per-pixel render cost), minimising
    variance x time (pixels that see the surface cost several times more than background
    ones); False is the method as published."""

    def validate(self) -> None:
        """Raise InputError naming the field (``fit.<name>``) for a value no run can use."""
        bad = set(self.params) - set(FIT_PARAMS)
        if bad or not self.params:
            raise InputError("fit.params", f"expected envmap and/or roughness, got "
                                           f"{','.join(self.params)!r}")
        if self.sampling not in SAMPLINGS:
            raise InputError("fit.sampling", f"expected one of {', '.join(SAMPLINGS)}, got "
                                             f"{self.sampling!r}")
        check_budget(self.budget, "fit.budget")
        if self.loss not in LOSSES:
            raise InputError("fit.loss", f"expected one of {', '.join(LOSSES)}, got {self.loss!r}")
        check_declared(self, "fit.")


def _is_image_init(init: str) -> bool:
    """True when ``init`` names an image file rather than constant[:V] or random."""
    return init.partition(":")[0] not in ("constant", "random", "specular")


@dataclasses.dataclass
class FitRunConfig:
    """A whole fit run, from the height-map file and the target images to the results
    folder (``fit.run_fit``); everything a repeat of the run needs.

    The seed of the run is ``fit.seed``. Paths are absolute once the run has been
    configured (``absolute_paths``), so a saved config works from any folder.
    """

    surface: SurfaceConfig = dataclasses.field(default_factory=SurfaceConfig)
    """The height-map file and how it is prepared (leveling, crop, resampling)."""
    targets: tuple[str, ...] = option((), "target image(s), one per camera: EXR/HDR linear or "
                                          "PNG/JPEG sRGB; all of the same size, which sets the "
                                          "render resolution (required without --config)",
                                      name="target", metavar="IMG", many=True, path=True)
    """Target image files, one per camera: EXR/HDR linear or PNG/JPEG sRGB, all of one size,
    which sets the render resolution."""
    cameras: tuple[str, ...] = option(("oblique",), "one camera, or one per target: "
                                      "oblique[:AZIMUTH[:ELEVATION]] (degrees; oblique = 0:45), "
                                      "top, or custom:X,Y,Z", name="camera", metavar="CAM",
                                      many=True)
    """One camera for every target, or one per target: oblique[:AZIMUTH[:ELEVATION]]
    (degrees; oblique = 0:45), top, or custom:X,Y,Z (``fit.cameras``)."""
    fov: float = option(30.0, "horizontal field of view, degrees", lo=1.0, hi=170.0)
    """Horizontal field of view of every camera, degrees."""
    material: str = option("aluminium", "metal preset", choices=tuple(sorted(MATERIALS)))
    """Metal preset of the surface: aluminium, steel, copper, chrome."""
    roughness: float = option(0.1, "initial GGX alpha, or the fixed one when it is not fitted",
                              lo=0.0, hi=1.0)
    """Initial GGX alpha, or the fixed one when the roughness is not fitted."""
    exaggeration: float = option(1.0, "height exaggeration", lo=0.0, lo_open=True)
    """Factor on the heights (1 = true proportions)."""
    max_depth: int = option(3, "path depth", lo=2, hi=64)
    """Path depth: 2 = direct light only, 3 = one interreflection."""
    color: str = option("gray", "gray: one channel drives R, G, B; rgb", choices=COLORS)
    """gray: one light channel drives R, G and B; rgb: three channels."""
    envmap_size: tuple[int, int] = option((25, 50), "environment map rows x columns", sep="x",
                                          metavar="HxW")
    """Environment map (rows, columns), lat-long."""
    init: str = option("constant:0.5", "initial light: constant[:V], random, or an image file",
                       path=_is_image_init)
    """Initial light: constant[:V], random, or an image file."""
    truth_envmap: str | None = option(None, "the true light, for the parameter error",
                                      path=True)
    """The true light (an image file), for the per-iteration parameter error; None: none."""
    truth_roughness: float | None = option(None, "the true GGX alpha", lo=0.0, hi=1.0)
    """The true GGX alpha, for the parameter error; None: none."""
    fit: FitConfig = dataclasses.field(default_factory=FitConfig)
    """Optimizer and pixel-sampling settings."""
    final_spp: int = option(64, "spp of the fitted image", lo=1, hi=65536)
    """Samples per pixel of the render of the fitted light (fitted.png, image_rmse)."""
    device: str = option("auto", "cuda when a GPU is usable (auto), cpu or cuda; with "
                                 "--config the saved one unless given", choices=DEVICES)
    """Where to render: auto (cuda when a GPU is usable), cpu or cuda."""

    @property
    def channels(self) -> int:
        """Channels of the light: 1 (gray) or 3 (rgb)."""
        return 1 if self.color == "gray" else 3

    def absolute_paths(self) -> "FitRunConfig":
        """A copy whose file paths (surface, targets, truth, init image) are absolute,
        relative ones taken from the current folder."""
        init = os.path.abspath(self.init) if _is_image_init(self.init) else self.init
        return dataclasses.replace(
            self,
            surface=dataclasses.replace(self.surface, path=os.path.abspath(self.surface.path)
                                        if self.surface.path else self.surface.path),
            targets=tuple(os.path.abspath(p) for p in self.targets),
            truth_envmap=None if self.truth_envmap is None else os.path.abspath(self.truth_envmap),
            init=init)

    def validate(self) -> None:
        """Raise InputError naming the dotted field at fault for a value no run can use.

        Checks the values only; files are read (and checked) by the run. The camera
        grammar is checked by ``fit.cameras.parse_cameras``.
        """
        self.fit.validate()
        r = self.roughness
        size = " x ".join(map(str, self.envmap_size))
        check_declared(self)
        checks = [
            ("roughness" not in self.fit.params or r > 0.0, "roughness",
             "fitting the roughness needs an initial value > 0 (0 is a smooth mirror)"),
            (len(self.targets) >= 1, "targets", "no target image given"),
            (len(self.cameras) in (1, len(self.targets)), "cameras",
             f"give one camera or one per target ({len(self.targets)}), got {len(self.cameras)}"),
            (len(self.envmap_size) == 2 and self.envmap_size[0] >= 2 and self.envmap_size[1] >= 4,
             "envmap_size", f"must be at least 2 x 4, got {size}"),
            (self.init.partition(":")[0] != "specular", "init",
             "fit supports constant[:V], random or an image file"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)
        self.surface.validate()

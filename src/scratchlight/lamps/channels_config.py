"""The configuration of ``scratchlight channels``: saved as ``run.json``, replayable."""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from ..options import check_declared, option
from .channels_search import SOLVERS
from .channels_io import CURVES

__all__ = ["ChannelsConfig", "L2_CHOICES"]

L2_CHOICES = ("auto", "env", "image", "none")


@dataclasses.dataclass
class ChannelsConfig:
    """Everything ``scratchlight channels`` depends on (``channels`` and ``channels_io``
    module docstrings: the objective, the layout and how images are read)."""

    images: str = option("", "folder of the channel images (one per channel, at full drive)",
                         flag="images", path=True)
    """The folder of the channel images."""
    layout: str = option("", "layout CSV: channel, file (in the folder), optional group, "
                             "exposure and the dome geometry columns", metavar="CSV",
                         path=True)
    """The layout CSV (``channels_io`` module docstring)."""
    mask: str = option("all", "pixels that count: all, or a mask image of the photos' size "
                              "(white counts)", metavar="all|IMAGE",
                       path=lambda v: v != "all")
    """The region of interest: 'all' or a mask image (white = in) of the photos' size."""
    dark: str | None = option(None, "dark frame (every channel off), subtracted from each "
                                    "photo", metavar="IMAGE", path=True)
    """A dark frame subtracted from each photo after decoding, or None."""
    curve: str = option("srgb", "transfer curve of 8/16-bit images (EXR and float TIFF are "
                                "linear)", choices=CURVES)
    """How integer images are decoded: srgb or linear."""
    exposure: float = option(1.0, "linear photo value of unit radiance: photos are divided by "
                                  "it (sets the balance of L_grad and the L2 term)", lo=0.0,
                             lo_open=True)
    """The linear value a photo holds for unit radiance; the stack is divided by it."""
    shots: int = option(1, "shots of the sequence (level vectors)", lo=1, hi=8)
    """K: the level vectors of a sequence; a region counts in the shot that shows it best."""
    regions: tuple[int, int] = option((4, 4), "tiles (rows x columns) over the mask whose "
                                              "visibility is maximized over the shots",
                                      sep="x", metavar="RxC")
    """The tiles of the smooth maximum over shots (used when shots > 1)."""
    sharpness: float = option(8.0, "p of the smooth maximum over shots (p-norm)", lo=1.0,
                              hi=64.0)
    """p of the p-norm that is the smooth maximum over the shots."""
    objective: str = option("gradient", "gradient: the paper's L_grad over the mask; "
                                        "defect-contrast: gradients inside --prior relative to "
                                        "the rest of the mask (one shot)",
                            choices=("gradient", "defect-contrast"))
    """gradient (the paper's) or defect-contrast (``channels_defect``)."""
    prior: str | None = option(None, "defect-contrast: where defects are expected, a mask "
                                     "image of the photos' size (white)", metavar="IMAGE",
                               path=True)
    """The defect prior of the defect-contrast objective: a mask image, or None."""
    max_total: float | None = option(None, "at most this sum of levels in each shot (a drive "
                                           "budget; default none)", lo=0.0, lo_open=True)
    """A drive budget: each shot's levels sum to at most this, or None."""
    lam: float = option(30.0, "L2 weight", lo=0.0)
    """Weight of the L2 term."""
    l2_target: str = option("auto", "L2 term on the light (env: needs the layout's geometry), "
                                    "on the image, or none; auto: env with geometry, else "
                                    "image", choices=L2_CHOICES)
    """auto, env (mean(E^2) of the channels' footprints), image (mean luminance^2 in the
    mask) or none."""
    envmap_size: tuple[int, int] = option((25, 50), "texels (rows x columns) of the "
                                                    "footprints of the env L2 term",
                                          sep="x", metavar="HxW")
    """The lat-long grid the channels' footprints are drawn on (L2 'env')."""
    solver: str = option("mm", "mm: majorize-minimize steps; adam: projected Adam",
                         choices=SOLVERS)
    """mm (majorize-minimize, the default) or adam (projected Adam)."""
    iterations: int = option(50, "steps per start (mm) or Adam steps", lo=1, hi=100_000)
    """Steps of the solver per start."""
    lr: float = option(0.02, "Adam learning rate (solver adam)", lo=0.0, lo_open=True, hi=1.0)
    """Adam's learning rate."""
    seed: int = option(0, "random seed (recorded; the search itself is deterministic)", lo=0,
                       hi=2 ** 31 - 1)
    """Recorded in run.json; no step of the search draws random numbers."""

    def validate(self) -> None:
        check_declared(self)
        if not self.images:
            raise InputError("images", "give the folder of the channel images")
        if not self.layout:
            raise InputError("layout", "give the layout CSV")
        rows, cols = self.regions
        h, w = self.envmap_size
        checks = [
            (1 <= rows <= 64 and 1 <= cols <= 64, "regions",
             f"must be 1 to 64 tiles each way, got {rows} x {cols}"),
            (4 <= h <= 1024 and 8 <= w <= 2048, "envmap_size",
             f"must be 4 x 8 to 1024 x 2048 texels, got {h} x {w}"),
            (self.mask == "all" or os.path.isfile(self.mask), self.mask,
             "no such mask image"),
            (self.objective == "gradient" or self.prior, "objective",
             "defect-contrast needs a prior of where defects are: --prior IMAGE"),
            (self.objective == "gradient" or self.shots == 1, "shots",
             "the defect-contrast objective chooses one shot"),
            (not self.prior or os.path.isfile(self.prior), self.prior or "prior",
             "no such prior image"),
            (self.max_total is None or self.objective == "gradient" or self.solver == "adam",
             "max_total", "a drive budget with defect-contrast needs --solver adam"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)

"""What the study runs: its sizes (:class:`Settings`, quick and full), the experiments each
surface gets (:data:`EXPERIMENTS`, one optimization run each) and what every run of one
reproduction shares (:class:`RunSetup`)."""
from __future__ import annotations

import dataclasses

from ..session import FINAL_RENDER_SEED

__all__ = ["Settings", "QUICK", "FULL", "Experiment", "EXPERIMENTS", "INITS", "RunSetup",
           "WHITE_RENDER_SEED", "experiments_for"]


@dataclasses.dataclass(frozen=True)
class Settings:
    """Sizes of one reproduction. ``real`` lists (file name, crop) with crop ``None``, or
    ``"square"`` for the central square window of a long map. ``seeds`` is the default
    number of seeds (replicates); ``window`` the model observers' window (pixels) and
    ``dprime_renders`` the renders per light, with and without the defects, for d'."""

    mode: str
    synthetic: tuple[str, ...]
    real: tuple[tuple[str, str | None], ...]
    size: int
    scratches: int
    resolution: int
    iterations: int
    spp: int
    final_spp: int
    envmap_size: tuple[int, int] = (25, 50)
    seeds: int = 5
    window: int = 16
    dprime_renders: int = 2


QUICK = Settings(mode="quick", synthetic=("face-mill",), real=(), size=96, scratches=3,
                 resolution=48, iterations=8, spp=4, final_spp=16, seeds=2, window=6)
FULL = Settings(mode="full", synthetic=("face-mill", "turning"),
                real=(("milled-face.sur", None), ("bullet-land-sample.x3p", "square")),
                size=256, scratches=4, resolution=128, iterations=100, spp=16, final_spp=128)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """One optimization run per surface. ``overrides`` are options of ``OptimizeConfig``
    (``OPTION_FIELDS``, the optimize flags without dashes); the values
    ``"@studio"`` and ``"@roi"`` stand for the generated studio map and the surface's region
    of interest."""

    key: str
    label: str
    overrides: tuple[tuple[str, object], ...] = ()
    synthetic_only: bool = False


EXPERIMENTS = (
    Experiment("base", "gray, constant 0.5, L2 on E, object mask (the paper's settings)"),
    Experiment("rgb", "RGB from the studio map, lam 10", (("color", "rgb"), ("init", "@studio"))),
    Experiment("l2_none", "no L2 term", (("l2_target", "none"),)),
    Experiment("l2_image", "L2 on the image I", (("l2_target", "image"),)),
    Experiment("scratch", "objective over the scratch map", (("mask", "scratch"),)),
    Experiment("roi", "objective over a user region around the planted scratches",
               (("mask", "@roi"),), synthetic_only=True),
    Experiment("init_random", "random initial light", (("init", "random"),)),
    Experiment("init_specular", "specular-direction initial light", (("init", "specular"),)),
    Experiment("init_file", "studio map converted by CIE L* as initial light",
               (("init", "@studio"),)),
)


# Figure 7/8: the inits compared, as (experiment, label).
INITS = (("base", "constant 0.5"), ("init_random", "random"), ("init_specular", "specular"),
         ("init_file", "studio map (CIE L*)"))


# Seed of the white-light reference render of each surface: the seed the optimizer's
# before/after renders use (``final_render_seed`` in run.json), so that "near white"
# compares the same samples.
WHITE_RENDER_SEED = FINAL_RENDER_SEED


def experiments_for(kind: str) -> list[Experiment]:
    """The experiments a surface of ``kind`` ('synthetic' or 'real') gets."""
    return [e for e in EXPERIMENTS if kind == "synthetic" or not e.synthetic_only]


@dataclasses.dataclass(frozen=True)
class RunSetup:
    """What every run of one reproduction shares: the sizes, the seed of every run, the
    engine ('ad' or 'transport'), the device and the path of the studio map."""

    settings: Settings
    seed: int
    engine: str
    device: str
    studio: str

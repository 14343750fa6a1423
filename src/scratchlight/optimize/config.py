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
import os
from typing import Any

from ..config import config_from_dict, config_to_dict, read_config
from ..errors import InputError
from ..options import check_declared, config_from_options, option, option_table, resolve_paths
from ..scene import SceneSpec
from ..surface import SurfaceConfig

__all__ = ["LightConfig", "OptimizerConfig", "OptimizeConfig", "OPTION_FIELDS", "ENGINE_NAMES",
           "JUDGE_SAMPLERS"]

ENGINE_NAMES = ("auto", "ad", "transport")
JUDGE_SAMPLERS = ("auto", "ldsampler", "independent")


def _precision(value) -> float | None:
    """'none' (or None) or a number in (0, 1] (text or typed)."""
    if value is None or str(value).strip().lower() == "none":
        return None
    try:
        v = float(value) if not isinstance(value, bool) else float("nan")
    except (TypeError, ValueError):
        v = float("nan")
    if not 0 < v <= 1:
        raise InputError("optimizer.final_precision", f"must be in (0, 1] or 'none', got {value!r}")
    return v


def _low_discrepancy_spp(n: int) -> bool:
    """Mitsuba's ldsampler takes 4, 16, 64, ... samples (a square power of two; it rounds
    anything else up, 1 to 4)."""
    return n >= 4 and n & (n - 1) == 0 and n.bit_length() % 2 == 1
DEVICES = ("auto", "cpu", "cuda")


def _is_file_init(init: str) -> bool:
    """True when ``init`` names an image file rather than constant[:V], random, specular."""
    return init.split(":")[0] not in ("constant", "random", "specular")


@dataclasses.dataclass
class LightConfig:
    """The light being optimized and the objective it is judged by (paper section 4)."""

    color: str = option("gray", "gray: one channel for R, G, B; rgb: three channels",
                        choices=("gray", "rgb"))
    """gray: one channel drives R, G and B (the paper's default); rgb: three channels."""
    envmap_size: tuple[int, int] = option((25, 50), "environment map rows x columns",
                                          sep="x", metavar="HxW")
    """Environment map (rows, columns), lat-long; row 0 is the zenith."""
    init: str = option("constant:0.5", "constant[:V], random, specular, or an .exr/.hdr/.png "
                                       "file", path=_is_file_init)
    """Initial light: constant[:V], random, specular, or an image file (gray by CIE L*)."""
    mask: str = option("object", "object, scratch (the scratch map), or a PNG in height-map "
                                 "coordinates", path=lambda v: v not in ("object", "scratch"))
    """Pixels that count: object, scratch (the scratch map), or a PNG in height-map
    coordinates; always intersected with the object mask."""
    scratch_kernel: int = option(21, "scratch map moving-average kernel, cells", lo=1,
                                 hi=4096)
    """Scratch map: moving-average kernel, cells."""
    scratch_patch: int = option(40, "scratch map patch size, cells", lo=1, hi=4096)
    """Scratch map: patch size, cells."""
    scratch_threshold: float = option(0.03, "scratch map threshold", lo=0.0, hi=1.0)
    """Scratch map: patch range threshold on the [0, 1]-scaled detrended map."""
    l2_target: str = option("env", "L2 term on the envmap (the paper's), the image, or none",
                            choices=("env", "image", "none"))
    """L2 term on the envmap (env, the paper's), on the image (image), or none."""
    lam: float | None = option(None, "L2 weight (default 30 gray, 10 rgb)", lo=0.0)
    """Weight of the L2 term; None = 30 for gray, 10 for rgb (the paper's values)."""
    objective: str = option("gradient", "gradient: the paper's L_grad over the mask; "
                            "defect-contrast: gradients inside the mask (the prior of where "
                            "defects are) relative to the rest of the surface",
                            choices=("gradient", "defect-contrast"))
    """gradient: the paper's L_grad over the mask; defect-contrast: the gradients inside
    the mask (scratch map or a region, the prior of where defects are) relative to the
    rest of the surface."""
    shots: int = option(1, "lights optimized together as a sequence of shots; a region of the "
                           "mask counts in the shot that shows it best", metavar="K", lo=1,
                        hi=8)
    """K lights optimized together (``optimize.shots``): each shot is its own image, and each
    region of the mask counts in the shot where it is most visible (a smooth maximum over
    the shots). 1: the paper's single light, unchanged."""
    shot_power: float = option(8.0, "multi-shot: p of the p-norm over shots of each region's "
                                    "mean gradient (larger: closer to the maximum)",
                               metavar="P", lo=1.0, hi=64.0)
    """Multi-shot only: p of the smooth maximum (Σ_k a_k^p)^(1/p) over the shots of a
    region's mean gradient a_k, i.e. log-sum-exp of ln a_k at temperature 1/p."""
    shot_tiles: int = option(4, "multi-shot: regions are the mask's connected pieces cut by "
                                "an N x N grid over its bounding box", metavar="N", lo=1, hi=64)
    """Multi-shot only: the regions are the 8-connected components of the mask, each cut by
    an N x N grid of tiles over the mask's bounding box (1: the components alone)."""

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
        """Raise InputError naming the field (``light.<name>``) for an unusable value: the
        declared choices and bounds, then the checks across fields."""
        from ..objectives import L2_TARGETS, OBJECTIVES

        check_declared(self, "light.")
        h, w = self.envmap_size
        checks = [
            (self.l2_target in L2_TARGETS, "light.l2_target",
             f"must be one of {', '.join(L2_TARGETS)}, got {self.l2_target!r}"),
            (self.objective in OBJECTIVES, "light.objective",
             f"must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"),
            (self.objective != "defect-contrast" or self.mask != "object", "light.objective",
             "defect-contrast needs a prior of where defects are: --mask scratch or a region"),
            (self.shots == 1 or self.objective == "gradient", "light.shots",
             "several shots need --objective gradient"),
            (h >= 4 and w >= 8, "light.envmap_size", f"must be at least 4 x 8, got {h} x {w}"),
            (h <= 1024 and w <= 2048, "light.envmap_size",
             f"must be at most 1024 x 2048, got {h} x {w}"),
        ]
        for ok, field, problem in checks:
            if not ok:
                raise InputError(field, problem)


@dataclasses.dataclass
class OptimizerConfig:
    """The optimization loop: Adam on E, clamped to [0, 1] (paper section 5)."""

    lr: float = option(0.02, "Adam learning rate", lo=0.0, lo_open=True, hi=1.0)
    """Adam learning rate."""
    iterations: int = option(100, "Adam steps", lo=1, hi=100_000,
                             studio=(50, "a page run should finish in a minute or so; "
                                         "Resume adds more"))
    """Number of Adam steps."""
    spp: int = option(16, "samples per pixel of each iteration's render", lo=1, hi=4096)
    """Samples per pixel of each iteration's render (primal and gradient each)."""
    final_spp: int = option(64, "spp of each judging render of the before/after lights "
                                "(4, 16, 64, ... with --final-sampler ldsampler)",
                            lo=1, hi=65536)
    """Samples per pixel of each judging render of the before/after lights
    (``report.judge``)."""
    final_sampler: str = option("auto", "Mitsuba sampler of the judging renders: ldsampler "
                                "(low-discrepancy; --final-spp 4, 16, 64, ...), independent (the "
                                "paper's), or auto: ldsampler where --final-spp allows it",
                                choices=JUDGE_SAMPLERS)
    """Mitsuba's sampler of the judging renders: 'ldsampler' stratifies a pixel's samples
    (one pass; ``final_spp`` 4, 16, 64, ...; at 64 spp the image error of 256 independent
    samples), 'independent' is the paper's (passes of 16), 'auto' is ldsampler where
    ``final_spp`` is one of those and independent otherwise (``judge_sampler``)."""
    final_precision: float | None = option(
        0.01, "render each judged light again (2 to 8 renders) until the objective's standard "
              "error is at most this fraction of it; none: one render, no standard error (the "
              "paper's judge)", metavar="FRACTION", parse=_precision, lo=0.0, lo_open=True,
        hi=1.0)
    """The judge renders a light at least twice (independent seeds) and adds renders, up to
    8, until the standard error of the mean objective is at most this fraction of it; None:
    exactly one render and no standard error (the judge of the paper and of runs before
    this one)."""
    engine: str = option("auto", "auto: the transport engine when its matrices fit the "
                         "memory budget, else ad; ad: a Mitsuba render per iteration (the "
                         "paper's exact loop); transport: precomputed transport matrices",
                         choices=ENGINE_NAMES,
                         studio=("transport", "the page relights through the transport "
                                              "matrices anyway, so a run reuses them"))
    """auto: transport when its matrices fit ``memory_budget_gib``, else ad (measured by a
    pilot, ``engines.choice``); ad: Mitsuba differentiable rendering per iteration (the
    paper's exact loop); transport: precomputed transport matrices T."""
    memory_budget_gib: float | None = option(
        None, "engine auto: memory the transport matrices may take, GiB (default a quarter "
              "of the machine's)", flag="--memory-budget", metavar="GIB", lo=0.0, lo_open=True)
    """engine 'auto': the memory (GiB) the transport matrices may take, peak of the build
    included; None for a quarter of the machine's memory."""
    transport_noise: str = option("matched", "transport engine: add the Monte Carlo noise of a "
                                  "Mitsuba render to each iteration's image (matched), or keep "
                                  "T's noise-free images (none)", choices=("matched", "none"))
    """Transport engine only: 'matched' adds to each iteration's image the Monte Carlo noise
    a Mitsuba render would have (measured once, at the first iteration on T), so runs from any start reach
    the AD engine's result; 'none' keeps T's deterministic images."""
    transport_warmup: int = option(5, "transport engine: render the first N iterations with "
                                   "Mitsuba at a quarter of --spp (at least 4), which decide "
                                   "where the run goes (0 for none)", metavar="N", lo=0,
                                   hi=2 ** 31 - 1)
    """Transport engine only: how many of the run's first iterations render with Mitsuba at
    a quarter of ``spp`` (4 for 16) instead of T (0 for none). The first steps decide where a run goes,
    and T's gradient is imprecise for weakly reflected texels; ~0.4 s per iteration at
    512^2."""

    def validate(self) -> None:
        """Raise InputError naming the field (``optimizer.<name>``) for an unusable value
        (the declared choices and bounds; ldsampler's spp a power of 4)."""
        check_declared(self, "optimizer.")
        if self.final_sampler == "ldsampler" and not _low_discrepancy_spp(self.final_spp):
            raise InputError("optimizer.final_spp", f"{self.final_spp}: the ldsampler judge "
                                                    "needs a power of 4 (4, 16, 64, 256, 1024, "
                                                    "...); or --final-sampler independent")

    @property
    def judge_sampler(self) -> str:
        """The Mitsuba sampler the judging renders use (``final_sampler`` resolved)."""
        if self.final_sampler != "auto":
            return self.final_sampler
        return "ldsampler" if _low_discrepancy_spp(self.final_spp) else "independent"

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
    seed: int = option(0, "random seed", lo=0, hi=2 ** 31 - 1)
    """Seed of every random choice of the run."""
    device: str = option("auto", "cuda when a GPU is usable (auto), else cpu", choices=DEVICES)
    """auto, cpu or cuda."""
    twin: str | None = option(None, "the same surface without its defects (scratchlight synth "
                                    "--twin): the optimized light is also judged by the "
                                    "display observers' d' against it", metavar="HEIGHTMAP",
                              path=True)
    """The same surface without its defects (``scratchlight synth --twin``): after the run
    the optimized light is rendered on both at ``final_spp`` with two seeds and judged by the
    model observers' detectability index d' (``run.json``'s ``detectability``)."""
    over: str | None = option(None, "optimize one light for a set of surfaces, e.g. seeds=0-3, "
                                    "rotation=-5:5:3 (degrees), tilt=0,1, synth.feed=100,120, "
                                    "files=a.npz,b.npz; parts joined by ; combine",
                              metavar="SET")
    """A set of surfaces the light must hold for (``optimize.robust``: the grammar, at most
    16 members; ``report.robust_results``: the run). None: today's single-surface run."""
    over_target: str = option("mean", "with --over: the mean objective over the set, or "
                                      "cvar:Q, the mean of the worst Q fraction",
                              metavar="mean|cvar:Q")
    """``mean`` or ``cvar:Q`` (0 < Q <= 1) of the members' objectives."""
    held_out: str | None = option(None, "with --over: the surfaces the light is judged on "
                                        "besides the set (default: the next two seeds, the "
                                        "midpoints of rotation, tilt and synth values)",
                                  metavar="SET")
    """Held-out members (the set grammar; keys it does not name keep their in-set values);
    None: ``robust.held_out_members``'s default."""

    def validate(self) -> None:
        """Raise InputError naming the first unusable field by its dotted path."""
        self.surface.validate()
        self.scene.validate()
        self.light.validate()
        self.optimizer.validate()
        check_declared(self)
        if self.over is not None:
            from .robust_set import held_out_members, parse_set, parse_target

            parse_set(self.over)
            parse_target(self.over_target)
            held_out_members(self.over, self.held_out)
            if self.light.shots > 1:
                raise InputError("over", "a set optimizes one light; use --shots 1")
        elif self.held_out is not None:
            raise InputError("held_out", "needs --over SET")

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
        # relative paths (a results folder's own roi.png, init light, surface) name files
        # beside the run.json, wherever the folder was moved
        return resolve_paths(read_config(path, cls, command="optimize"),
                             os.path.dirname(os.path.abspath(path)))

    @classmethod
    def from_options(cls, **options) -> "OptimizeConfig":
        """A config from flat options (``OPTION_FIELDS``), the rest at their defaults."""
        return cls().with_options(**options)

    def with_options(self, **options) -> "OptimizeConfig":
        """A copy with flat options (``OPTION_FIELDS`` names, typed or as text) changed."""
        return config_from_options(self, options)


OPTION_FIELDS: dict[str, str] = {name: e.field for name, e in option_table(OptimizeConfig).items()}
"""Flat option name (the CLI flag without dashes) -> dotted field of OptimizeConfig, derived
from the fields' declarations (``scratchlight.options``)."""

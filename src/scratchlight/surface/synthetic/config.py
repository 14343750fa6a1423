"""``SynthConfig``: the parameters of a synthetic surface, declared once per option.

``scratchlight synth`` derives its flags from these declarations and a batch plan's
``synth.<name>`` keys are checked and converted by them (``batch.surfaces``). Fields hold SI
units (metres); every length is given in micrometres on the command line and in a plan
(``flag_scale = 1e-6``): ``--feed 120`` and ``synth.feed = 120`` are a feed per tooth of
120 um. The cutting parameters (``feed``, ``tool_radius``, ...) default to None, the kind's
own value (``KIND_DEFAULTS``); one that the kind does not take is refused by name.
"""
from __future__ import annotations

import dataclasses

from ...errors import InputError
from ...heightmap import HeightMap
from ...options import check_declared, option
from .synthesize import KIND_DEFAULTS, KINDS, synthesize

__all__ = ["SynthConfig", "SYNTH_OPTIONS", "CUTTING"]

UM = 1e-6

# the kind-specific cutting parameters of ``synthesize(**cutting)``
CUTTING = ("feed", "tool_radius", "cutter_radius", "teeth", "runout", "stepover",
           "grain_width", "grain_depth", "grain_density", "scatter_deg")


def _um(default, help: str, **kw):
    return option(default, help, metavar="UM", flag_scale=UM, **kw)


@dataclasses.dataclass
class SynthConfig:
    """A synthetic machined surface: kind, grid, cutting parameters, texture and defects."""

    kind: str = option("face-mill", "cutting process", choices=KINDS)
    """Which kinematic model cuts the surface (``kinematics``)."""
    size: int = option(512, "grid points per side", lo=16, hi=8192)
    """Grid points per side; the map is size x size."""
    seed: int = option(0, "random seed", lo=0, hi=2 ** 31 - 1)
    """Seed of every random stream (roughness, phases, grains, defects)."""
    spacing: float = _um(5e-6, "grid spacing, micrometres", lo=0.0, lo_open=True)
    """Grid spacing dx = dy, metres."""
    scratches: int = option(0, "number of planted scratches", lo=0)
    """Number of planted scratches."""
    dents: int = option(0, "number of planted dents", lo=0)
    """Number of planted dents."""
    chatter: float = _um(0.0, "chatter waviness amplitude along the feed, micrometres",
                         lo=0.0)
    """Chatter waviness amplitude, metres."""
    roughness: float = _um(20e-9, "rms of the random roughness, micrometres (0 = off)", lo=0.0)
    """RMS of the self-affine roughness, metres."""
    scratch_width: float = _um(30e-6, "scratch width, micrometres", lo=0.0, lo_open=True)
    """Scratch width, metres."""
    scratch_depth: float = _um(2e-6, "scratch depth, micrometres", lo=0.0, lo_open=True)
    """Scratch depth, metres."""
    scratch_profile: str = option("v", "scratch cross-section", choices=("v", "round"))
    """Scratch cross-section, 'v' or 'round'."""
    dent_radius: float = _um(50e-6, "dent rim radius, micrometres", lo=0.0, lo_open=True)
    """Dent rim radius, metres."""
    dent_depth: float = _um(2e-6, "dent depth, micrometres", lo=0.0, lo_open=True)
    """Dent depth, metres."""
    chatter_wavelength: float = _um(0.5e-3, "chatter wavelength along the feed, micrometres",
                                    lo=0.0, lo_open=True)
    """Chatter wavelength along x, metres."""
    feed: float | None = _um(None, "feed per tooth (turning: per revolution), micrometres "
                                   "(default: the kind's, face-mill 120, turning 100, "
                                   "ball-end 80)", lo=0.0, lo_open=True)
    """Feed per tooth along x, metres (None: the kind's default)."""
    tool_radius: float | None = _um(None, "insert corner / nose / ball radius, micrometres "
                                          "(default: the kind's, 800 or ball-end 3000)",
                                    lo=0.0, lo_open=True)
    """Corner, nose or ball radius, metres (None: the kind's default)."""
    cutter_radius: float | None = _um(None, "face mill: radius of the insert circle, "
                                            "micrometres (default 5000, or the map's height)",
                                      lo=0.0, lo_open=True)
    """Face mill: radius of the circle the insert corners describe, metres."""
    teeth: int | None = option(None, "face mill: number of inserts (default 4)", lo=1, hi=64)
    """Face mill: number of inserts (None: 4)."""
    runout: float | None = _um(None, "face mill: axial runout, micrometres (default 0.5)",
                               lo=0.0)
    """Face mill: axial runout, metres (None: 0.5 um)."""
    stepover: float | None = _um(None, "ball-end: distance between passes, micrometres "
                                       "(default 250)", lo=0.0, lo_open=True)
    """Ball end: distance between passes, metres (None: 250 um)."""
    grain_width: float | None = _um(None, "ground: mean groove width, micrometres (default 12)",
                                    lo=0.0, lo_open=True)
    """Grinding: mean groove width, metres."""
    grain_depth: float | None = _um(None, "ground: mean groove depth, micrometres "
                                          "(default 0.25)", lo=0.0, lo_open=True)
    """Grinding: mean groove depth, metres."""
    grain_density: float | None = option(None, "ground: grooves per square millimetre "
                                               "(default 150)", lo=0.0, lo_open=True)
    """Grinding: grooves per square millimetre."""
    scatter_deg: float | None = option(None, "ground: scatter of the groove direction, "
                                             "degrees (default 1)", lo=0.0)
    """Grinding: standard deviation of the groove direction about x, degrees."""

    def validate(self) -> None:
        """Raise InputError naming the field for a value outside its declared bounds or a
        cutting parameter the kind does not take."""
        check_declared(self)
        takes = set(KIND_DEFAULTS[self.kind]) | ({"scatter_deg"} if self.kind == "ground" else set())
        for name in CUTTING:
            if getattr(self, name) is not None and name not in takes:
                raise InputError(name, f"not a parameter of kind {self.kind!r} (it takes "
                                       f"{', '.join(sorted(takes))})")

    def cutting(self) -> dict:
        """The cutting parameters given (``synthesize(**cutting)``), in metres and counts."""
        return {n: getattr(self, n) for n in CUTTING if getattr(self, n) is not None}

    def synthesize(self, defects: bool = True) -> HeightMap:
        """The surface (``synthesize``); ``defects=False``: the same surface without its
        planted scratches and dents (the defect-free twin)."""
        self.validate()
        return synthesize(self.kind, self.size, self.seed,
                          self.scratches if defects else 0, self.chatter,
                          spacing=self.spacing, dents=self.dents if defects else 0,
                          roughness=self.roughness, chatter_wavelength=self.chatter_wavelength,
                          scratch_width=self.scratch_width, scratch_depth=self.scratch_depth,
                          scratch_profile=self.scratch_profile, dent_radius=self.dent_radius,
                          dent_depth=self.dent_depth, **self.cutting())


SYNTH_OPTIONS = tuple(f.name for f in dataclasses.fields(SynthConfig))
"""Every option of ``SynthConfig``, in declaration order (the flags of ``synth``)."""

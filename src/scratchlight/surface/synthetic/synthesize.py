"""The synthetic-surface orchestrator: a kind's machining marks, texture and defects.

``synthesize`` validates the parameters, adds chatter waviness and roughness
(``texture``) to the kind's marks (``kinematics``), removes the mean and cuts the planted
defects (``defects``) into the result. Random draws come from independent streams of
``seed`` (roughness, phases, grains, defects), so the same seed always gives the same
surface, and adding defects does not change the surface under them.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from ...heightmap import HeightMap
from .defects import plant_dents, plant_scratches
from .grid import check_count, check_positive
from .kinematics import ball_end_marks, face_mill_marks, ground_marks, turning_marks
from .texture import chatter_waviness, self_affine_roughness

__all__ = ["KINDS", "KIND_DEFAULTS", "synthesize"]

KINDS = ("face-mill", "turning", "ball-end", "ground")

# Kind-specific defaults of the cutting parameters (metres, counts).
KIND_DEFAULTS = {
    "turning": {"feed": 100e-6, "tool_radius": 0.8e-3},
    "face-mill": {"feed": 120e-6, "tool_radius": 0.8e-3, "cutter_radius": None, "teeth": 4,
                  "runout": 0.5e-6},
    "ball-end": {"feed": 80e-6, "tool_radius": 3e-3, "stepover": 250e-6},
    "ground": {"grain_width": 12e-6, "grain_depth": 0.25e-6, "grain_density": 150.0},
}

# One independent random stream of the seed per ingredient, so that adding defects leaves
# the surface under them as it was; appending keeps the existing streams' draws.
_STREAMS = ("roughness", "phase", "grains", "scratches", "dents")


def synthesize(kind: str, size: int = 512, seed: int = 0, scratches: int = 0,
               chatter: float = 0.0, *, spacing: float = 5e-6, dents: int = 0,
               roughness: float = 20e-9, hurst: float = 0.8,
               rolloff_wavelength: float = 100e-6, chatter_wavelength: float = 0.5e-3,
               scratch_width: float = 30e-6, scratch_depth: float = 2e-6,
               scratch_profile: str = "v", dent_radius: float = 50e-6,
               dent_depth: float = 2e-6, **cutting) -> HeightMap:
    """A synthetic machined surface with planted defects and their ground-truth mask.

    Args:
        kind: 'face-mill', 'turning', 'ball-end' or 'ground' (see ``kinematics``).
        size: grid points per side (>= 16); the map is ``size`` x ``size``.
        seed: random seed (int >= 0); the same seed gives the same surface.
        scratches: number of planted scratches (>= 0).
        chatter: chatter waviness amplitude, metres (>= 0).
        spacing: grid spacing dx = dy, metres (default 5 um).
        dents: number of planted spherical dents (>= 0).
        roughness: rms of the self-affine roughness, metres (0 turns it off).
        hurst: Hurst exponent of the roughness, in (0, 1].
        rolloff_wavelength: roughness roll-off wavelength, metres.
        chatter_wavelength: chatter wavelength along the feed (x), metres.
        scratch_width, scratch_depth: groove width and depth, metres.
        scratch_profile: 'v' or 'round'.
        dent_radius, dent_depth: dent rim radius and depth, metres.
        **cutting: kind-specific cutting parameters overriding ``KIND_DEFAULTS[kind]``:
            ``feed``, ``tool_radius`` (turning, face-mill, ball-end), ``cutter_radius``,
            ``teeth``, ``runout`` (face-mill), ``stepover`` (ball-end), ``grain_width``,
            ``grain_depth``, ``grain_density``, ``scatter_deg`` (ground).

    Returns:
        HeightMap with (size, size) float64 ``heights`` in metres, ``dx = dy = spacing``,
        all points valid, and ``truth`` (size, size) bool marking the planted defects
        (all False without defects).

    Raises:
        InputError: naming the parameter, for an unknown kind or a value out of range.
    """
    if kind not in KINDS:
        raise InputError("kind", f"unknown surface kind {kind!r}; choose from {', '.join(KINDS)}")
    if isinstance(size, bool) or int(size) != size or size < 16:
        raise InputError("size", f"must be a whole number >= 16, got {size}")
    size = int(size)
    seed = check_count("seed", seed)
    scratches, dents = check_count("scratches", scratches), check_count("dents", dents)
    spacing = check_positive("spacing", spacing)
    allowed = set(KIND_DEFAULTS[kind]) | ({"scatter_deg"} if kind == "ground" else set())
    unknown = set(cutting) - allowed
    if unknown:
        raise InputError(sorted(unknown)[0], f"not a parameter of kind {kind!r} "
                                             f"(has: {', '.join(KIND_DEFAULTS[kind])})")
    params = {**KIND_DEFAULTS[kind], **cutting}
    streams = dict(zip(_STREAMS, np.random.SeedSequence(seed).spawn(len(_STREAMS))))
    shape = (size, size)

    if kind == "turning":
        z = turning_marks(shape, spacing, **params)
    elif kind == "face-mill":
        z = face_mill_marks(shape, spacing, **params)
    elif kind == "ball-end":
        z = ball_end_marks(shape, spacing, **params)
    else:
        z = ground_marks(shape, spacing, seed=streams["grains"], **params)
    phase = np.random.default_rng(streams["phase"]).uniform(0, 2 * np.pi)
    z = z + chatter_waviness(shape, spacing, chatter, chatter_wavelength, phase)
    z = z + self_affine_roughness(shape, spacing, roughness, hurst, rolloff_wavelength,
                                  seed=streams["roughness"])
    z -= z.mean()

    truth = np.zeros(shape, bool)
    removal = np.zeros(shape)
    if scratches:
        r, t = plant_scratches(shape, spacing, scratches, scratch_width, scratch_depth,
                               scratch_profile, seed=streams["scratches"])
        removal, truth = np.maximum(removal, r), truth | t
    if dents:
        r, t = plant_dents(shape, spacing, dents, dent_radius, dent_depth, seed=streams["dents"])
        removal, truth = np.maximum(removal, r), truth | t
    heights = z - removal
    desc = f"synthetic {kind} (seed {seed}, {scratches} scratches, {dents} dents)"
    return HeightMap(heights=heights, dx=spacing, dy=spacing, valid=np.ones(shape, bool),
                     source=desc, truth=truth)


"""Lights the page starts from, and how a painted light is saved so a run replays.

Presets (row 0 the zenith, columns over azimuth, as ``scene.envmap``): ``uniform`` (every
texel 0.5), ``studio`` (a sky over a darker floor with a softbox, the kind of light a
renderer ships with) and ``specular`` (the optimizer's ``specular`` initial map: the
directions the camera sees mirrored in the surface, needs the scene).

``write_init_light`` writes a light as the EXR that ``optimize --init FILE`` turns back into
the same numbers: RGB as it is; gray encoded so that the command's conversion (CIE L* / 100)
gives the painted values again.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..io import write_exr
from ..objectives import LUMINANCE_WEIGHTS
from ..scene import studio_envmap

__all__ = ["PRESETS", "preset_light", "studio_light", "to_channels", "lightness_inverse",
           "write_init_light"]

PRESETS = ("uniform", "studio", "specular")


def studio_light(shape: tuple[int, int]) -> np.ndarray:
    """(H, W, 3) linear RGB in [0, 1]: the studio preset, ``scene.studio_envmap``."""
    return studio_envmap(shape)


def to_channels(E: np.ndarray, channels: int) -> np.ndarray:
    """A light with ``channels`` (1: Rec. 709 luminance of RGB; 3: gray repeated)."""
    E = np.asarray(E, np.float32)
    if E.shape[2] == channels:
        return E.copy()
    if channels == 1:
        return (E @ LUMINANCE_WEIGHTS.astype(np.float32))[..., None].astype(np.float32)
    return np.repeat(E, 3, axis=2)


def preset_light(name: str, shape: tuple[int, int], channels: int, session=None) -> np.ndarray:
    """The preset ``name`` (``PRESETS``) as an (H, W, channels) float32 map."""
    if name == "uniform":
        return np.full((*shape, channels), 0.5, np.float32)
    if name == "studio":
        return to_channels(studio_light(shape), channels)
    if name == "specular":
        if session is None:
            raise InputError("preset", "load a surface first")
        from ..optimize.config import LightConfig

        light = LightConfig(color="gray" if channels == 1 else "rgb", envmap_size=tuple(shape),
                            init="specular")
        return session.initial_envmap(light)
    raise InputError("preset", f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")


def lightness_inverse(v: np.ndarray) -> np.ndarray:
    """Luminance Y whose CIE L* / 100 is ``v`` (the inverse of ``optimize.init``'s gray
    conversion of a light file)."""
    L = 100.0 * np.asarray(v, np.float64)
    kappa = (29 / 3) ** 3
    return np.where(L > 8.0, ((L + 16) / 116) ** 3, L / kappa)


def write_init_light(path: str | os.PathLike, E: np.ndarray) -> None:
    """Write ``E`` (H, W, C) so that ``--init path`` gives it back (module docstring)."""
    E = np.asarray(E, np.float32)
    if E.shape[2] == 1:
        Y = lightness_inverse(E[..., 0])
        E = np.repeat(Y[..., None], 3, axis=2).astype(np.float32)
    write_exr(path, E)

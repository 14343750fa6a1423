"""Conventions of the lat-long environment map: shapes, channels, Mitsuba's layout, lookup.

Every module that reads, writes or looks up an environment map goes through these
functions, so the conventions below are stated and implemented once.

Array. An environment map E is a float32 array (H, W, C) of linear radiance, C = 1 (gray:
the one value drives R, G and B alike) or 3 (RGB); a 2-D (H, W) array is read as C = 1.
Row 0 is the zenith above the surface (world +z), row H-1 the nadir; texel rows sit at
polar angles theta = pi r / (H - 1), so rows 0 and H-1 are the poles themselves. The columns
run over azimuth, column c centred at phi = 2 pi (c + 0.5) / W, wrapping around.

Frame. Mitsuba's ``envmap`` emitter is +y-up in its own frame; ours is rotated by +90
degrees about x (``EMITTER_ROTATION_AXIS``, ``EMITTER_ROTATION_DEG``), so a world direction
(x, y, z) is (x, z, -y) in the emitter frame.

Lookup (Mitsuba 3.9.1's, checked against ``mi.render``). For a unit direction d in the
emitter frame, in texel units::

    u = frac(atan2(d.x, -d.z) / 2 pi - 0.5 / W) * W      columns wrap around
    v = acos(d.y) / pi * (H - 1)                          rows clamp

and the radiance is the bilinear interpolation of the four texels around (v, u).

Emitter data. In Mitsuba 3.9 the emitter stores the map as (H, W + 2, 3) RGB with two
wrap-around ("halo") columns, data[:, 0] = E[:, W-1] and data[:, W+1] = E[:, 0]
(measured), so that the bilinear lookup never wraps an index. A gray map is expanded to
three equal channels there.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_ENVMAP_SHAPE", "EMITTER_ROTATION_AXIS", "EMITTER_ROTATION_DEG", "as_envmap",
    "constant_envmap", "studio_envmap", "rgb_channels", "envmap_rgb", "emitter_data_shape", "halo_indices",
    "expand_envmap", "expand_envmap_adjoint", "expand_envmap_drjit", "world_to_emitter",
    "direction_to_texel", "bilinear_lookup", "bilinear_texels_drjit",
]

# The paper's resolution: 25 rows from zenith to nadir (7.5 degrees apart), 50 columns.
DEFAULT_ENVMAP_SHAPE = (25, 50)

# Rotation of Mitsuba's +y-up envmap frame into our +z-up world (axis, degrees).
EMITTER_ROTATION_AXIS = (1, 0, 0)
EMITTER_ROTATION_DEG = 90.0


# ---- the array ----------------------------------------------------------------------------

def as_envmap(E: np.ndarray) -> np.ndarray:
    """An envmap as float32 (H, W, C) with C = 1 or 3; a 2-D (H, W) map gets C = 1."""
    E = np.asarray(E, np.float32)
    if E.ndim == 2:
        E = E[..., None]
    if E.ndim != 3 or E.shape[2] not in (1, 3):
        raise ValueError(f"envmap must have shape (H, W), (H, W, 1) or (H, W, 3), got {E.shape}")
    return E


def constant_envmap(value: float = 0.5, shape: tuple[int, int] = DEFAULT_ENVMAP_SHAPE,
                    channels: int = 1) -> np.ndarray:
    """An (H, W, channels) float32 map filled with ``value``."""
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"constant light must be a finite value >= 0, got {value}")
    return np.full((shape[0], shape[1], channels), value, np.float32)


def studio_envmap(shape: tuple[int, int] = (64, 128)) -> np.ndarray:
    """A common "studio" light (H, W, 3) float32, linear RGB in [0, 1]: a blue-to-white sky
    over a warm, darker floor with a soft horizon, plus a large warm softbox 35 degrees up
    at azimuth 120 degrees, the kind of light a renderer ships as its default.

    Row r is at polar angle r / (H - 1) * pi (row 0 the zenith, the last row the nadir) and
    column c at azimuth (c + 0.5) / W * 2 pi: Mitsuba's texel centres (``direction_to_texel``).
    """
    H, W = shape
    theta = np.arange(H) / max(H - 1, 1) * np.pi
    phi = (np.arange(W) + 0.5) / W * 2 * np.pi
    th, ph = np.meshgrid(theta, phi, indexing="ij")
    elev = np.pi / 2 - th
    up = np.clip(np.sin(elev), 0, 1)[..., None]
    sky = (1 - up) * np.array([0.85, 0.88, 0.9]) + up * np.array([0.25, 0.42, 0.8])
    down = np.clip(-np.sin(elev), 0, 1)[..., None]
    floor = (1 - down) * np.array([0.42, 0.36, 0.3]) + down * np.array([0.12, 0.09, 0.07])
    blend = 1 / (1 + np.exp(-elev / 0.05))[..., None]  # a soft horizon
    E = blend * sky + (1 - blend) * floor
    box = np.arccos(np.clip(np.sin(elev) * np.sin(np.radians(35)) + np.cos(elev)
                            * np.cos(np.radians(35)) * np.cos(ph - np.radians(120)), -1, 1))
    E = E + np.exp(-(box / np.radians(14)) ** 2)[..., None] * np.array([0.6, 0.5, 0.35])
    return np.clip(E, 0, 1).astype(np.float32)


def rgb_channels(C: int) -> np.ndarray:
    """(3,) int channel of a C-channel map that drives R, G and B: (0, 1, 2) for RGB,
    (0, 0, 0) for gray."""
    return np.arange(3) if C == 3 else np.zeros(3, int)


def envmap_rgb(E: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 RGB of a map (H, W[, 1|3]); a gray map's value goes to all three."""
    E = as_envmap(E)
    return np.repeat(E, 3, axis=2) if E.shape[2] == 1 else E


# ---- Mitsuba's emitter data (halo columns) ------------------------------------------------

def emitter_data_shape(H: int, W: int) -> tuple[int, int, int]:
    """Shape (H, W + 2, 3) of the emitter's data for an (H, W) map: two halo columns."""
    return (int(H), int(W) + 2, 3)


def halo_indices(H: int, W: int, C: int) -> np.ndarray:
    """Flat indices into a C-channel (H, W, C) map that build the (H, W+2, 3) emitter data:
    ``data.ravel() = E.ravel()[halo_indices(H, W, C)]``, (H * (W+2) * 3,) uint32."""
    cols = np.concatenate([[W - 1], np.arange(W), [0]])
    ch = rgb_channels(C)
    idx = (np.arange(H)[:, None, None] * W + cols[None, :, None]) * C + ch[None, None, :]
    return idx.astype(np.uint32).ravel()


def expand_envmap(E: np.ndarray) -> np.ndarray:
    """(H, W, 1|3) map -> (H, W+2, 3) float32 emitter data with the wrap-around columns."""
    rgb = envmap_rgb(E)
    return np.concatenate([rgb[:, -1:], rgb, rgb[:, :1]], axis=1)


def expand_envmap_adjoint(G: np.ndarray, C: int) -> np.ndarray:
    """The transpose of ``expand_envmap``: a gradient G (H, W+2, 3) with respect to the
    emitter data -> (H, W, C) float64 with respect to the C-channel map (halo columns added
    to the columns they copy; for a gray map the three channels summed)."""
    G = np.asarray(G, np.float64)
    H, W = G.shape[0], G.shape[1] - 2
    return np.bincount(halo_indices(H, W, C), weights=G.ravel(),
                       minlength=H * W * C).reshape(H, W, C)


def expand_envmap_drjit(E):
    """``expand_envmap`` on the Dr.Jit side: an (H, W, C) ``mi.TensorXf`` -> its (H, W+2, 3)
    emitter data as a gather, so that gradients flow back to E."""
    import drjit as dr
    import mitsuba as mi

    H, W, C = (int(v) for v in E.shape)
    data = dr.gather(mi.Float, E.array, mi.UInt32(halo_indices(H, W, C)))
    return mi.TensorXf(data, shape=emitter_data_shape(H, W))


# ---- directions and texels ----------------------------------------------------------------

def world_to_emitter(directions: np.ndarray) -> np.ndarray:
    """World directions (N, 3) -> the emitter frame: (x, y, z) -> (x, z, -y), float64."""
    d = np.asarray(directions, np.float64)
    return np.stack([d[:, 0], d[:, 2], -d[:, 1]], axis=1)


def direction_to_texel(directions: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest envmap texel (row, column), (N,) int64 each, for world directions (N, 3),
    unit vectors.

    Mitsuba's lookup in the emitter frame (module docstring) puts texel centres at
    atan2(d.x, -d.z) / 2 pi = (c + 0.5) / W (wrapped to [0, 1)) and acos(d.y) / pi =
    r / (H - 1); the nearest column is therefore the floor of W times the first, the
    nearest row the rounded (H - 1) times the second.
    """
    H, W = shape
    d = world_to_emitter(directions)
    u = np.mod(np.arctan2(d[:, 0], -d[:, 2]) / (2 * np.pi), 1.0)
    v = np.arccos(np.clip(d[:, 1], -1.0, 1.0)) / np.pi
    col = np.floor(u * W).astype(np.int64) % W
    row = np.clip(np.rint(v * (H - 1)).astype(np.int64), 0, H - 1)
    return row, col


def bilinear_lookup(E: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """Mitsuba's radiance of the map E (H, W[, C]) towards world directions (N, 3), unit
    vectors: the bilinear lookup of the module docstring in NumPy, (N, C) float64 (the same
    texels and weights as ``bilinear_texels_drjit``)."""
    E = as_envmap(E).astype(np.float64)
    H, W = E.shape[:2]
    d = world_to_emitter(directions)
    u = np.arctan2(d[:, 0], -d[:, 2]) / (2 * np.pi) - 0.5 / W
    u = (u - np.floor(u)) * W
    v = np.arccos(np.clip(d[:, 1], -1.0, 1.0)) / np.pi * (H - 1)
    j0f, i0f = np.floor(u), np.floor(v)
    fu, fv = (u - j0f)[:, None], (v - i0f)[:, None]
    j0 = np.clip(j0f.astype(np.int64), 0, W - 1)
    j1 = (j0 + 1) % W
    i0 = np.clip(i0f.astype(np.int64), 0, H - 1)
    i1 = np.minimum(i0 + 1, H - 1)
    return ((1 - fu) * (1 - fv) * E[i0, j0] + fu * (1 - fv) * E[i0, j1]
            + (1 - fu) * fv * E[i1, j0] + fu * fv * E[i1, j1])


def bilinear_texels_drjit(d, H: int, W: int):
    """The four texels of Mitsuba's bilinear lookup of emitter-frame directions ``d``
    (``mi.Vector3f``, unit) in an (H, W) map, on the Dr.Jit side.

    Returns (i0, i1, j0, j1, fu, fv): rows i0 <= i1 (clamped to the map) and columns j0,
    j1 = j0 + 1 wrapped around (``mi.UInt32``), and the fractions (``mi.Float``) such that
    texel (i0, j0) weighs (1 - fu)(1 - fv), (i0, j1) fu (1 - fv), (i1, j0) (1 - fu) fv and
    (i1, j1) fu fv.
    """
    import drjit as dr
    import mitsuba as mi

    u = dr.atan2(d.x, -d.z) * dr.inv_two_pi - 0.5 / W
    u = (u - dr.floor(u)) * W
    v = dr.safe_acos(d.y) * dr.inv_pi * (H - 1)
    j0f, i0f = dr.floor(u), dr.floor(v)
    fu, fv = u - j0f, v - i0f
    j0 = mi.UInt32(dr.clip(mi.Int32(j0f), 0, W - 1))
    j1 = dr.select(j0 + 1 >= W, 0, j0 + 1)
    i0 = mi.UInt32(dr.clip(mi.Int32(i0f), 0, H - 1))
    i1 = dr.minimum(i0 + 1, H - 1)
    return i0, i1, j0, j1, fu, fv

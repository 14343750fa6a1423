"""Initial states of the environment map (paper section 5.2).

- ``constant[:V]``: every texel V (default 0.5).
- ``random``: independent uniform values in [0, 1] (seeded).
- ``specular``: the specular-reflection-direction map. One camera ray per pixel is
  reflected as by a perfect mirror at the surface (shading normal), following
  interreflections up to the scene's path depth; the directions in which the rays finally
  leave are histogrammed into the envmap texels and scaled to a maximum of 1. Texels the
  camera sees through the surface's mirror reflection start bright, the rest dark.
- ``FILE`` (.exr .hdr .png): a lat-long map, resampled to the envmap size (area average
  on linear RGB) and converted to gray by the lightness L* of CIE LUV, divided by 100.

Every init returns float32 (H, W, C) in [0, 1], C = 1 for gray and 3 for RGB.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import InputError
from ..objectives import LUMINANCE_WEIGHTS

__all__ = ["INIT_KINDS", "cie_lightness", "resize_envmap", "specular_direction_map",
           "initial_envmap"]

INIT_KINDS = ("constant", "random", "specular")


def cie_lightness(rgb: np.ndarray) -> np.ndarray:
    """CIE L* (0..100) of linear sRGB/Rec. 709 colours (..., 3), white point Y = 1.

    L* = 116 (Y)^(1/3) - 16 for Y > (6/29)^3, else (29/3)^3 Y. L* is the same in CIE LUV and
    CIE LAB. Values with Y > 1 give L* > 100.
    """
    Y = np.asarray(rgb, np.float64) @ LUMINANCE_WEIGHTS
    eps = (6 / 29) ** 3
    return np.where(Y > eps, 116 * np.cbrt(np.maximum(Y, eps)) - 16, (29 / 3) ** 3 * Y)


def resize_envmap(E: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resample an (h, w, C) lat-long map to ``shape`` = (H, W), averaging over each new
    texel's area when shrinking (Gaussian prefilter) and bilinear otherwise."""
    E = np.asarray(E, np.float64)
    h, w = E.shape[:2]
    H, W = shape
    if (h, w) == (H, W):
        return E.copy()
    sig = (max(h / H - 1, 0) / 2, max(w / W - 1, 0) / 2, 0)
    from scipy import ndimage  # here: SciPy's import costs every command's start
    smooth = ndimage.gaussian_filter(E, sigma=sig, mode=("nearest", "wrap", "nearest"))
    rows = (np.arange(H) + 0.5) * h / H - 0.5
    cols = (np.arange(W) + 0.5) * w / W - 0.5
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    out = np.stack([ndimage.map_coordinates(smooth[..., k], [rr, cc], order=1, mode="nearest")
                    for k in range(E.shape[2])], axis=-1)
    return out


def specular_direction_map(scene, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W) float32 histogram of mirror-reflected escape directions, max scaled to 1."""
    import drjit as dr
    import mitsuba as mi

    from ..scene.envmap import direction_to_texel

    mscene = scene.mitsuba_scene
    sensor = mscene.sensors()[0]
    h, w = scene.image_shape
    rng = np.random.default_rng(seed)
    py, px = np.mgrid[0:h, 0:w]
    u = ((px + rng.random((h, w))) / w).ravel().astype(np.float32)
    v = ((py + rng.random((h, w))) / h).ravel().astype(np.float32)
    ray, _ = sensor.sample_ray(0.0, 0.5, mi.Point2f(u, v), mi.Point2f(0.5, 0.5))
    ray = mi.Ray3f(ray)
    active = mi.Bool(True)
    bounced = mi.Bool(False)
    for _ in range(max(1, scene.spec.max_depth - 1)):
        si = mscene.ray_intersect(ray, active)
        hit = active & si.is_valid()
        n = si.sh_frame.n
        d = ray.d - 2.0 * dr.dot(ray.d, n) * n
        ray = dr.select(hit, si.spawn_ray(d), ray)
        bounced |= hit
        active = hit
    d = np.array(ray.d).reshape(3, -1).T
    escaped = np.array(bounced & ~active)
    # rays still trapped after max_depth bounces carry no light in the renderer either
    row, col = direction_to_texel(d[escaped], shape)
    hist = np.zeros(shape, np.float64)
    np.add.at(hist, (row, col), 1.0)
    if hist.max() <= 0:
        raise InputError("light.init", "no camera ray hits the surface; cannot build the specular map")
    return (hist / hist.max()).astype(np.float32)


def initial_envmap(init: str, shape: tuple[int, int], channels: int, seed: int = 0,
                   scene=None) -> np.ndarray:
    """The initial light for ``--init`` (see module docstring), (H, W, channels) float32."""
    H, W = shape
    kind, _, arg = init.partition(":")
    if kind == "constant":
        try:
            value = float(arg) if arg else 0.5
        except ValueError:
            raise InputError("light.init", f"constant value must be a number, got {arg!r}") from None
        if not 0.0 <= value <= 1.0:
            raise InputError("light.init", f"constant value must be in [0, 1], got {value}")
        return np.full((H, W, channels), value, np.float32)
    if kind == "random":
        return np.random.default_rng(seed).random((H, W, channels)).astype(np.float32)
    if kind == "specular":
        if scene is None:
            raise ValueError("the specular init needs the scene")
        m = specular_direction_map(scene, shape, seed)
        return np.repeat(m[..., None], channels, axis=2)
    from ..io.images import ENVMAP_EXTENSIONS, read_envmap

    if os.path.splitext(init)[1].lower() in ENVMAP_EXTENSIONS or os.path.exists(init):

        rgb = resize_envmap(read_envmap(init), shape)
        if channels == 1:
            return np.clip(cie_lightness(rgb) / 100.0, 0, 1)[..., None].astype(np.float32)
        return np.clip(rgb, 0, 1).astype(np.float32)
    raise InputError("light.init", f"expected constant[:V], random, specular or an image file, got {init!r}")

"""The on-disk cache of judging renders.

A judging render (``Session.render_final``: an independent Mitsuba render with a fixed
seed) is a pure function of the scene, the light, spp, seed and sampler. The renders of a
run's initial light are the same for every run from that start on a surface (the default
start is the constant 0.5) and cost a sizeable part of a default ``optimize`` command, so
the judge (``report.judge``) caches them: as ``R-<key>.npy`` under
``$SCRATCHLIGHT_CACHE/renders`` (else ``~/.cache/scratchlight/renders``), the key hashing
``Scene.digest()`` (height map, scene spec, envmap shape, Mitsuba version and variant), the
light's values and shape, spp, seed and sampler. A cached image is therefore the one the
render would give, to the bit.

A file is written under a temporary name and renamed into place, so a reader sees a whole
file or none; one that cannot be read, or does not hold a finite image of the scene's
shape, is rendered again and replaced.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Callable

import numpy as np

from ..user_cache import cache_root

__all__ = ["RENDER_CACHE_VERSION", "default_render_cache_dir", "render_key", "cached_render"]

RENDER_CACHE_VERSION = 2


def default_render_cache_dir() -> str:
    """``$SCRATCHLIGHT_CACHE/renders`` if that variable is set, else
    ``~/.cache/scratchlight/renders``."""
    return os.path.join(cache_root(), "renders")


def render_key(scene, envmap: np.ndarray, spp: int, seed: int,
               sampler: str = "independent") -> str:
    """Hex digest (24 characters) of a judging render of ``scene`` under ``envmap`` (H, W[, C])
    at ``spp`` with ``seed`` and Mitsuba's ``sampler``."""
    E = np.ascontiguousarray(envmap, np.float32)
    h = hashlib.sha256()
    h.update(f"scratchlight-render-v{RENDER_CACHE_VERSION}".encode())
    h.update(scene.digest().encode())
    h.update(repr((E.shape, int(spp), int(seed), str(sampler))).encode())
    h.update(E.tobytes())
    return h.hexdigest()[:24]


def _load(path: str, shape: tuple[int, int, int]) -> np.ndarray | None:
    try:
        image = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # absent or damaged: rendered again
    if image.shape != shape or image.dtype != np.float32 or not np.isfinite(image).all():
        return None
    return image


def cached_render(scene, envmap: np.ndarray, spp: int, seed: int,
                  render: Callable[[], np.ndarray],
                  cache_dir: str | os.PathLike | None = None,
                  sampler: str = "independent") -> tuple[np.ndarray, bool]:
    """The judging render of ``scene`` under ``envmap`` at ``spp`` with ``seed`` and
    ``sampler``: from the cache, or ``render()`` (which must make exactly that render), then
    cached.

    Returns (image (h, w, 3) float32, whether it came from the cache). ``cache_dir``: the
    folder, default ``default_render_cache_dir()``.
    """
    folder = default_render_cache_dir() if cache_dir is None else os.fspath(cache_dir)
    path = os.path.join(folder, f"R-{render_key(scene, envmap, spp, seed, sampler)}.npy")
    h, w = scene.image_shape
    image = _load(path, (h, w, 3))
    if image is not None:
        return image, True
    image = np.ascontiguousarray(render(), np.float32)
    if image.shape != (h, w, 3):
        raise ValueError(f"render gave an image of shape {image.shape}, expected {(h, w, 3)}")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".R-", suffix=".npy.tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, image, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a cache that cannot be written (read-only, full) costs time, not the result
    return image, False

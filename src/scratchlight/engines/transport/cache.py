"""The on-disk cache of transport matrices.

T is cached (``.npz``) under a key hashing everything it depends on: the height map
(bytes, spacing), the scene spec, the envmap shape, spp, seed, the engine version, the
Mitsuba version and variant. The cache folder is ``cache_dir``, else
``$SCRATCHLIGHT_CACHE/transport``, else ``~/.cache/scratchlight/transport``.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

from ...scene.build import Scene
from .build import build_transport
from .matrix import TRANSPORT_VERSION, TransportMatrix

__all__ = ["default_cache_dir", "transport_key", "load_or_build_transport"]


def default_cache_dir() -> str:
    """``$SCRATCHLIGHT_CACHE/transport`` if that variable is set, else
    ``~/.cache/scratchlight/transport``."""
    root = os.environ.get("SCRATCHLIGHT_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "scratchlight")
    return os.path.join(root, "transport")



def transport_key(scene: Scene, spp: int, seed: int = 0) -> str:
    """Hex digest (24 characters) of everything T depends on.

    Height-map bytes and spacing, the SceneSpec (material, roughness, exaggeration, camera,
    image size, max_depth), envmap shape, spp, seed, TRANSPORT_VERSION, and the Mitsuba
    version and variant (their random sequences differ).
    """
    import mitsuba as mi

    hm = scene.heightmap
    h = hashlib.sha256()
    h.update(f"scratchlight-transport-v{TRANSPORT_VERSION}".encode())
    h.update(np.ascontiguousarray(hm.heights, np.float64).tobytes())
    h.update(np.ascontiguousarray(hm.valid, bool).tobytes())
    h.update(repr((hm.heights.shape, float(hm.dx), float(hm.dy))).encode())
    h.update(repr(scene.spec).encode())
    h.update(repr((tuple(int(v) for v in scene.envmap_shape), int(spp), int(seed))).encode())
    h.update(f"{mi.__version__} {mi.variant()}".encode())
    return h.hexdigest()[:24]


def load_or_build_transport(scene: Scene, spp: int = 64, seed: int = 0,
                            cache_dir: str | os.PathLike | None | bool = None,
                            progress: bool | str = False) -> tuple[TransportMatrix, bool]:
    """T for ``scene`` from the cache, or built (and then cached). Returns (T, from_cache).

    ``cache_dir``: a folder; None for ``default_cache_dir()``; False for no caching. A cache
    file that cannot be read is rebuilt and overwritten.
    """
    key = transport_key(scene, spp, seed)
    path = None
    if cache_dir is not False:
        folder = default_cache_dir() if cache_dir in (None, True) else os.fspath(cache_dir)
        path = os.path.join(folder, f"T-{key}.npz")
        if os.path.isfile(path):
            try:
                T = TransportMatrix.load(path)
                if T.key == key:
                    return T, True
            except (OSError, ValueError, KeyError):
                pass
    T = build_transport(scene, spp=spp, seed=seed, progress=progress)
    T.key = key
    if path is not None:
        T.save(path)
    return T, False

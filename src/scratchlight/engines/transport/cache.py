"""The on-disk cache of transport matrices.

T is cached (``.npz``) under a key hashing everything it depends on: the height map
(bytes, spacing), the scene spec, the envmap shape, spp, seed, the engine version, the
Mitsuba version and variant. The cache folder is ``cache_dir``, else
``$SCRATCHLIGHT_CACHE/transport``, else ``~/.cache/scratchlight/transport``.

Several processes may share the cache (a batch's workers): a matrix file is written under a
temporary name and renamed into place (``TransportMatrix.save``), so a reader sees a whole
file or none, and a builder holds an exclusive lock on ``T-<key>.lock`` (``flock``) while it
builds, so a second worker that needs the same key waits for it and then loads its file
instead of building the matrix again.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile

from ...scene.build import Scene
from ...user_cache import cache_root
from .build import build_transport
from .matrix import TRANSPORT_VERSION, TransportMatrix

__all__ = ["cache_root", "default_cache_dir", "transport_key", "load_or_build_transport",
           "key_lock"]


def default_cache_dir() -> str:
    """``$SCRATCHLIGHT_CACHE/transport`` if that variable is set, else
    ``~/.cache/scratchlight/transport``."""
    return os.path.join(cache_root(), "transport")


def transport_key(scene: Scene, spp: int, seed: int = 0) -> str:
    """Hex digest (24 characters) of everything T depends on: the scene (``Scene.digest``:
    height map, SceneSpec, envmap shape, Mitsuba version and variant), spp, seed and
    TRANSPORT_VERSION."""
    h = hashlib.sha256()
    h.update(f"scratchlight-transport-v{TRANSPORT_VERSION}".encode())
    h.update(scene.digest().encode())
    h.update(repr((int(spp), int(seed))).encode())
    return h.hexdigest()[:24]


def load_or_build_transport(scene: Scene, spp: int = 64, seed: int = 0,
                            cache_dir: str | os.PathLike | None | bool = None,
                            progress: bool | str = False) -> tuple[TransportMatrix, bool]:
    """T for ``scene`` from the cache, or built (and then cached). Returns (T, from_cache).

    ``cache_dir``: a folder; None for ``default_cache_dir()``; False for no caching. A cache
    file that cannot be read is rebuilt and overwritten. The kernels of T's products are
    made ready too (``TransportMatrix.warm_up``: compiled once per machine, ~1.5 s per
    process from their cache), so that the first relight is as fast as the others.
    """
    T, from_cache = _load_or_build(scene, spp, seed, cache_dir, progress)
    T.warm_up()
    return T, from_cache


def _load_or_build(scene: Scene, spp: int, seed: int, cache_dir, progress):
    key = transport_key(scene, spp, seed)
    if cache_dir is False:
        T = build_transport(scene, spp=spp, seed=seed, progress=progress)
        T.key = key
        return T, False
    folder = default_cache_dir() if cache_dir in (None, True) else os.fspath(cache_dir)
    path = os.path.join(folder, f"T-{key}.npz")
    T = _load(path, key)
    if T is not None:
        return T, True
    with key_lock(path):
        T = _load(path, key)  # built by another process while this one waited
        if T is not None:
            return T, True
        T = build_transport(scene, spp=spp, seed=seed, progress=progress)
        T.key = key
        T.save(path)  # write-then-rename: never a half-written file under this name
    return T, False


def _load(path: str, key: str) -> TransportMatrix | None:
    if not os.path.isfile(path):
        return None
    try:
        T = TransportMatrix.load(path)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None  # damaged: rebuilt and replaced
    return T if T.key == key else None


@contextlib.contextmanager
def key_lock(path: str | os.PathLike):
    """Hold an exclusive lock on ``path + '.lock'`` (created if needed) for the block.

    A process that dies releases its lock with it. The lock file stays (removing it would
    race with a process about to lock it). Without ``fcntl`` (Windows) the block runs
    unlocked; the atomic rename still keeps the cache file whole.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    lock = os.fspath(path) + ".lock"
    os.makedirs(os.path.dirname(os.path.abspath(lock)), exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

"""Compiled kernels (numba): the one decorator, cache folder and lock of every kernel of
the package (the transport products and build, the objective's L1 gradient sum).

Compiled kernels are cached on disk under ``$NUMBA_CACHE_DIR`` if set, else under the
scratchlight cache root (``$SCRATCHLIGHT_CACHE`` or ``~/.cache/scratchlight``) in
``numba/``, never beside an installed package; when that folder is not writable they are
compiled in memory only. Importing numba takes ~0.6 s; this module is imported by the
functions that run kernels, not at ``import scratchlight``.
"""
from __future__ import annotations

import os
import sys
import threading

from .backend import thread_limit

# numba reads its thread count once, when it is imported (set_num_threads is per thread)
if thread_limit() is not None and "numba" not in sys.modules:
    _cores = int(os.environ.get("NUMBA_NUM_THREADS") or os.cpu_count() or 1)
    os.environ["NUMBA_NUM_THREADS"] = str(min(thread_limit(), _cores))

import numba  # noqa: E402
from numba.core import config as _numba_config  # noqa: E402

from .user_cache import cache_root  # noqa: E402

__all__ = ["jit", "numba_cache_dir", "threads", "LOCK"]

# numba's workqueue layer (used when neither TBB nor OpenMP is present) aborts the process
# when two Python threads launch parallel kernels at once (the studio relights from worker
# threads): one kernel at a time, each using every thread anyway.
LOCK = threading.Lock()


def numba_cache_dir() -> str | None:
    """The folder compiled kernels are cached in (``$NUMBA_CACHE_DIR``, else
    ``<scratchlight cache root>/numba``), or None when it cannot be written."""
    folder = _numba_config.CACHE_DIR or os.path.join(cache_root(), "numba")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


_CACHE_DIR = numba_cache_dir()


def jit(fn):
    """``numba.njit(parallel, nogil)`` cached in ``numba_cache_dir()``.

    numba picks a function's cache folder when it is decorated: from ``config.CACHE_DIR``,
    else beside its source (site-packages for an installed package). So CACHE_DIR is set for
    the decoration only, leaving the rest of the process's numba as it was; no folder, no
    cache.
    """
    if _CACHE_DIR is None:
        return numba.njit(parallel=True, nogil=True)(fn)
    before = _numba_config.CACHE_DIR
    _numba_config.CACHE_DIR = _CACHE_DIR
    try:
        return numba.njit(parallel=True, nogil=True, cache=True)(fn)
    finally:
        _numba_config.CACHE_DIR = before


def threads() -> int:
    """Threads a kernel uses (numba's default: the cores, or ``NUMBA_NUM_THREADS``)."""
    return numba.get_num_threads()

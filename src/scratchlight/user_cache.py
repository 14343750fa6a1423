"""The user's cache folder of scratchlight (transport matrices, compiled kernels)."""
from __future__ import annotations

import os

__all__ = ["cache_root"]


def cache_root() -> str:
    """``$SCRATCHLIGHT_CACHE`` if that variable is set, else ``~/.cache/scratchlight``."""
    return os.environ.get("SCRATCHLIGHT_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "scratchlight")

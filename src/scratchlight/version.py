"""The package version, read from the installed distribution's metadata (``pyproject.toml``
is the one place it is written). A module of its own so that the modules that report it
(``report.results``, ``cli``) need not import the root package, which imports them."""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__ = version("scratchlight")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

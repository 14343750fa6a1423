"""Names of a package imported on first use (PEP 562), so that importing the package stays
cheap: reading a plan does not import SciPy, `scratchlight info` does not import Mitsuba."""
from __future__ import annotations

import importlib
import sys
from typing import Callable

__all__ = ["lazy_getattr"]


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``package``: the name ``n`` is imported from the
    module ``exports[n]`` (relative to ``package``, e.g. ``".run"``) when first asked for,
    then kept in the package; any other name is an AttributeError."""
    def __getattr__(name: str):
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__

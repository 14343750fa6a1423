"""The sampling grid of a synthetic surface and the checks of the models' arguments.

A surface is sampled on ``shape`` = (ny, nx) points ``spacing`` metres apart: column ``j``
is x = j * spacing (the feed direction), row ``i`` is y = i * spacing. Invalid arguments
raise ``InputError`` naming the parameter.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError

__all__ = ["grid_axes", "check_positive", "check_shape", "check_count"]


def grid_axes(shape, spacing):
    """(x, y): (nx,) and (ny,) float64 coordinates in metres of the grid's columns and rows."""
    ny, nx = shape
    return np.arange(nx) * spacing, np.arange(ny) * spacing


def check_positive(name: str, value: float) -> float:
    """``value`` as a float if it is a finite number > 0; else InputError naming ``name``."""
    if value is None or not np.isfinite(value) or value <= 0:
        raise InputError(name, f"must be a positive number, got {value}")
    return float(value)


def check_shape(shape) -> tuple[int, int]:
    """(ny, nx) as ints if the grid has at least 3 x 3 points; else InputError."""
    ny, nx = (int(v) for v in shape)
    if ny < 3 or nx < 3:
        raise InputError("shape", f"grid must be at least 3 x 3, got {nx} x {ny}")
    return ny, nx


def check_count(name: str, value) -> int:
    """``value`` as an int if it is a whole number >= 0 (not a bool); else InputError."""
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise InputError(name, f"must be a whole number >= 0, got {value}")
    return int(value)

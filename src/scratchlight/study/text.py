"""How the study writes numbers: in claim evidence, figure titles and report tables."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["fmt", "pct"]


def fmt(x, digits: int = 4) -> str:
    """A number for a table; 'n/a' for None or NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    return f"{float(x):.{digits}g}"


def pct(x: float) -> str:
    """A fraction as a whole percentage; 'n/a' for None or NaN."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f} %"

"""A small synthetic surface many tests use. Tests import it by name (``from surface_helpers
import feed_marks``), never from ``conftest``: with conftest.py files in several folders,
the module named ``conftest`` is whichever pytest loaded last."""
import numpy as np

from scratchlight.io import check_heightmap

__all__ = ["feed_marks"]


def feed_marks(ny=64, nx=80, spacing=5e-6, period_cells=6.0, amp=1.5e-6, seed=0):
    """Turning-like feed marks along x plus a little noise, heights in metres (spacing in
    metres per point, period in points, amplitude in metres)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:ny, 0:nx]
    h = amp * np.abs(np.sin(np.pi * xx / period_cells)) + 0.05 * amp * rng.standard_normal((ny, nx))
    return check_heightmap(h, spacing, spacing, source="feed-marks")

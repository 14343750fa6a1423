"""Levelling against NumPy's least squares on the full design matrix."""
from __future__ import annotations

import numpy as np
import pytest

from scratchlight.io.heightmap import check_heightmap
from scratchlight.surface.prepare import level_plane


def _lstsq_levelled(hm):
    ny, nx = hm.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    v = hm.valid & np.isfinite(hm.heights)
    A = np.stack([xx[v] * hm.dx, yy[v] * hm.dy, np.ones(v.sum())], axis=1)
    coef = np.linalg.lstsq(A, hm.heights[v], rcond=None)[0]
    return hm.heights - (coef[0] * xx * hm.dx + coef[1] * yy * hm.dy + coef[2])


@pytest.mark.parametrize("ny, nx, missing", [(5, 7, 0.0), (40, 33, 0.2), (120, 90, 0.5)])
def test_level_plane_is_the_least_squares_plane(ny, nx, missing):
    rng = np.random.default_rng(ny)
    z = (rng.normal(0, 1e-6, (ny, nx)) + 3e-4 * np.arange(nx)[None, :] * 2e-6
         - 2e-4 * np.arange(ny)[:, None] * 3e-6 + 5e-3)       # a tilted, offset plane + relief
    z[rng.random((ny, nx)) < missing] = np.nan
    hm = check_heightmap(z, 2e-6, 3e-6, source="tilted")
    got, want = level_plane(hm).heights, _lstsq_levelled(hm)
    v = hm.valid
    np.testing.assert_allclose(got[v], want[v], rtol=0, atol=1e-9 * np.ptp(want[v]))
    assert np.isnan(got[~v]).all()
    assert np.array_equal(hm.heights[v], z[v])  # the input is not modified


def test_points_on_one_line_level_without_error():
    z = np.full((4, 5), np.nan)
    z[2, :] = np.arange(5) * 1e-6
    hm = check_heightmap(z, 1e-6, 1e-6, source="line")
    got = level_plane(hm).heights
    np.testing.assert_allclose(got[2], 0.0, atol=1e-15)

"""The native readers against an independent reader: SurfaceTopography (the ``fields``
extra, installed by ``make test``). On every sample file and written file both can read,
they must agree on the grid, the spacing, the heights (to 1e-9 of the height range) and
the missing-point mask."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.io import read_heightmap
from scratchlight.io.fields import fields_available, read_with_surfacetopography

from heightmap_files import DATA_DIR, write_sur, write_x3p
from io_samples import gwyddion_text, koala_text

pytestmark = pytest.mark.skipif(not fields_available(),
                                reason="the fields extra (SurfaceTopography) is not installed")

RNG = np.random.default_rng(7)
RELIEF = np.cumsum(RNG.standard_normal((24, 31)), axis=1)  # arbitrary units


def _assert_agree(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = read_heightmap(path)
    other = read_with_surfacetopography(path)
    assert native.shape == other.shape
    assert native.dx == pytest.approx(other.dx, rel=1e-6)
    assert native.dy == pytest.approx(other.dy, rel=1e-6)
    np.testing.assert_array_equal(native.valid, other.valid)
    v = native.valid
    span = float(np.ptp(native.heights[v]))
    np.testing.assert_allclose(native.heights[v], other.heights[v], rtol=0, atol=1e-9 * span)


@pytest.mark.parametrize("name", ["milled-face.sur"])
def test_sample_files_agree(name):
    if not DATA_DIR.is_dir():
        pytest.fail(f"sample data missing: {DATA_DIR}")
    _assert_agree(DATA_DIR / name)


@pytest.mark.parametrize("name, why", [
    ("bullet-land-sample.x3p", "main.xml"),  # main.xml sits in a folder of the archive
    ("tiny-testing.x3p", "Revision"),  # a Revision text SurfaceTopography does not accept
])
def test_sample_files_surfacetopography_cannot_read(name, why):
    """The samples left out above, and why (so a newer SurfaceTopography is noticed)."""
    with pytest.raises(InputError, match=why):
        read_with_surfacetopography(DATA_DIR / name)
    assert read_heightmap(DATA_DIR / name).valid.any()


@pytest.mark.parametrize("dtype, z_inc, z_off", [("D", None, None), ("F", None, None),
                                                 ("I", 1e-8, 2e-6), ("L", 1e-9, None)])
def test_x3p_agrees(tmp_path, dtype, z_inc, z_off):
    values = RELIEF * 1e-7 if dtype in "DF" else np.round(RELIEF * 100)
    valid = RNG.random(values.shape) > 0.1
    if dtype in "DF":
        values = np.where(valid, values, np.nan)
        valid = None
    p = write_x3p(tmp_path / f"t{dtype}.x3p", values, 1.5e-6, 2.5e-6, dtype=dtype,
                  z_increment=z_inc, z_offset=z_off, valid=valid)
    _assert_agree(p)


@pytest.mark.parametrize("special", [0, 1])
def test_sur_agrees(tmp_path, special):
    counts = np.round(RELIEF * 1000).astype(np.int32)
    zmin = int(counts.min())
    if special:
        counts[3, 4] = counts[10, 20] = zmin - 2  # non-measured points
    p = write_sur(tmp_path / "t.sur", counts, 2.0, 3.0, 0.5, unit="nm" if special else "um",
                  special_points=special, zmin=zmin)
    _assert_agree(p)


def test_gwyddion_text_agrees(tmp_path):
    p = tmp_path / "gwy.txt"
    p.write_text(gwyddion_text(RELIEF, "62.00 µm", "36.00 µm", "nm"), encoding="utf-8")
    _assert_agree(p)
    # the German labels (Breite, Höhe, Werteinheiten), which SurfaceTopography 1.27 does
    # not know for the value unit, give the same map as the English ones
    q = tmp_path / "gwy-de.txt"
    q.write_text(gwyddion_text(RELIEF, "62.00 µm", "36.00 µm", "nm", german=True),
                 encoding="latin-1")
    a, b = read_heightmap(p), read_heightmap(q)
    assert (a.dx, a.dy) == (b.dx, b.dy)
    np.testing.assert_array_equal(a.heights, b.heights)


def test_koala_text_agrees(tmp_path):
    p = tmp_path / "koala.txt"
    p.write_text(koala_text(RELIEF, 2.5e-7, 2e-7))
    _assert_agree(p)

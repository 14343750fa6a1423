"""The optional SurfaceTopography reader (skipped where the package is not installed)."""
from __future__ import annotations

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.io import READERS, read_heightmap
from scratchlight.io.fields import FIELDS_EXTENSIONS, fields_available, read_with_surfacetopography

from heightmap_files import DATA_DIR

needs_st = pytest.mark.skipif(not fields_available(), reason="SurfaceTopography not installed")


def test_fields_extensions_never_shadow_native_readers():
    for ext in (".x3p", ".sur", ".tif", ".tiff", ".csv", ".txt", ".asc", ".npy", ".npz"):
        assert ext not in FIELDS_EXTENSIONS


def test_without_surfacetopography_the_error_names_the_package(tmp_path, monkeypatch):
    # as without the package: no reader registered for its extensions
    monkeypatch.delitem(READERS, ".plu", raising=False)
    (tmp_path / "scan.plu").write_bytes(b"\x00" * 64)
    with pytest.raises(InputError, match="needs the optional SurfaceTopography"):
        read_heightmap(tmp_path / "scan.plu")


@needs_st
@pytest.mark.skipif(not DATA_DIR.is_dir(), reason="no sample data")
@pytest.mark.parametrize("name", ["milled-face.sur"])
def test_surfacetopography_agrees_with_the_native_reader(name):
    native = read_heightmap(DATA_DIR / name)
    other = read_with_surfacetopography(DATA_DIR / name)
    assert other.shape == native.shape
    assert other.dx == pytest.approx(native.dx, rel=1e-6)
    assert other.dy == pytest.approx(native.dy, rel=1e-6)
    np.testing.assert_array_equal(other.valid, native.valid)
    # the native .sur reader adds the header's z offset (0 in this file)
    np.testing.assert_allclose(other.heights[native.valid], native.heights[native.valid],
                               rtol=1e-9, atol=1e-15)


@needs_st
@pytest.mark.parametrize("ext", [".nc", ".gwy"])
def test_surfacetopography_round_trip(tmp_path, ext):
    import SurfaceTopography as st

    h = np.arange(20, dtype=float).reshape(4, 5)  # SurfaceTopography: (nx, ny), x first
    topo = st.Topography(h, (8.0, 5.0), unit="um")  # 2 um x 1 um spacing
    path = tmp_path / f"t{ext}"
    (topo.to_netcdf if ext == ".nc" else topo.to_gwy)(str(path))
    hm = read_heightmap(path)
    assert hm.shape == (5, 4)  # ours: (ny, nx)
    assert (hm.dx, hm.dy) == pytest.approx((2e-6, 1e-6))
    np.testing.assert_allclose(hm.heights, h.T * 1e-6)


@needs_st
def test_surfacetopography_errors_are_one_line_input_errors(tmp_path):
    (tmp_path / "junk.plu").write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match=r"junk\.plu: not a valid \.plu file") as e:
        read_heightmap(tmp_path / "junk.plu")
    assert "\n" not in str(e.value)

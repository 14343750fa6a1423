"""Height-map readers against the real sample files and round trips of files we write."""
from __future__ import annotations

import json
import shutil
import zipfile

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.io import READERS, HeightMap, read_heightmap, write_npz, write_text
from scratchlight.io.heightmap import check_heightmap

from heightmap_files import DATA_DIR, write_sur, write_x3p, x3p_main_xml

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"no sample data in {DATA_DIR}")


def test_every_documented_extension_is_registered():
    for ext in (".npy", ".npz", ".x3p", ".sur", ".tif", ".tiff", ".csv", ".txt", ".asc"):
        assert ext in READERS


# --- real files (see shared/data/README.md) ------------------------------------------------

@needs_data
def test_bullet_land_x3p_with_all_its_quirks():
    # top folder in the zip, __MACOSX junk, an extra mask.png, root tag without namespace
    with zipfile.ZipFile(DATA_DIR / "bullet-land-sample.x3p") as z:
        names = z.namelist()
    assert "sample-land/main.xml" in names and any(n.startswith("__MACOSX") for n in names)
    hm = read_heightmap(DATA_DIR / "bullet-land-sample.x3p")
    assert hm.shape == (256, 918)  # rows along y, x fastest in the file
    assert hm.dx == pytest.approx(2.58e-6) and hm.dy == pytest.approx(2.58e-6)
    assert hm.missing_fraction == pytest.approx(0.108, abs=0.002)
    assert np.isnan(hm.heights[~hm.valid]).all() and np.isfinite(hm.heights[hm.valid]).all()
    h = hm.heights[hm.valid]
    assert 1e-6 < np.ptp(h) < 1e-3  # metres: a bullet land's relief is tens of micrometres
    assert np.abs(h).max() < 1e-3
    assert hm.heights.dtype == np.float64 and hm.valid.dtype == bool


@needs_data
def test_tiny_namespaced_x3p():
    hm = read_heightmap(DATA_DIR / "tiny-testing.x3p")
    assert hm.shape == (20, 30)
    assert hm.dx == pytest.approx(0.0274999996026357) and hm.dy == hm.dx
    assert hm.missing_fraction == 0.0
    with zipfile.ZipFile(DATA_DIR / "tiny-testing.x3p") as z:
        raw = np.frombuffer(z.read("bindata/data.bin"), "<f8").reshape(20, 30)
    np.testing.assert_array_equal(hm.heights, raw)  # D data, CZ increment 1, offset 0


@needs_data
def test_milled_face_sur():
    hm = read_heightmap(DATA_DIR / "milled-face.sur")
    assert hm.shape == (484, 563)
    assert hm.dx == pytest.approx(3.484e-6, rel=1e-6) and hm.dy == pytest.approx(3.484e-6, rel=1e-6)
    # int32 counts of 1e-7 mm; 117 points hold the non-measured marker zmin - 2
    assert (~hm.valid).sum() == 117
    h = hm.heights[hm.valid]
    assert h.min() == pytest.approx(89120 * 1e-10) and h.max() == pytest.approx(103880 * 1e-10)
    assert 1e-7 < np.ptp(h) < 1e-4


@needs_data
def test_real_files_are_read_without_modification(tmp_path):
    src = DATA_DIR / "tiny-testing.x3p"
    copy = shutil.copy(src, tmp_path / "copy.x3p")
    before = (tmp_path / "copy.x3p").read_bytes()
    read_heightmap(copy)
    assert (tmp_path / "copy.x3p").read_bytes() == before


# --- X3P variants we write ourselves ------------------------------------------------------

def _grid(ny=4, nx=5):
    return np.arange(ny * nx, dtype=np.float64).reshape(ny, nx)


@pytest.mark.parametrize("dtype", ["I", "L"])
def test_x3p_integer_types_use_z_increment_and_offset(tmp_path, dtype):
    counts = _grid() - 7
    path = write_x3p(tmp_path / "i.x3p", counts, 1e-6, 2e-6, dtype=dtype,
                     z_increment=1e-8, z_offset=5e-6)
    hm = read_heightmap(path)
    np.testing.assert_allclose(hm.heights, 5e-6 + 1e-8 * counts, rtol=1e-12)
    assert (hm.dx, hm.dy) == (1e-6, 2e-6)


def test_x3p_float32_with_nan_and_valid_bits(tmp_path):
    h = _grid() * 1e-7
    h[0, 0] = np.nan
    valid = np.ones(h.shape, bool)
    valid[2, 3] = False
    hm = read_heightmap(write_x3p(tmp_path / "f.x3p", h, 1e-6, 1e-6, dtype="F", valid=valid,
                                  namespace=False, folder="top/"))
    assert not hm.valid[0, 0] and not hm.valid[2, 3] and hm.valid.sum() == h.size - 2
    np.testing.assert_allclose(hm.heights[hm.valid], h[hm.valid].astype(np.float32), rtol=1e-6)


def test_x3p_inline_data_list(tmp_path):
    values = ["1e-6", "2e-6", "", "4e-6", "5e-6", "6e-6", "7e-6", "8e-6", "9e-6"]
    path = tmp_path / "list.x3p"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("main.xml", x3p_main_xml(3, 3, 1e-6, 1e-6, data_list=values))
    hm = read_heightmap(path)
    assert hm.shape == (3, 3) and not hm.valid[0, 2] and hm.heights[2, 2] == 9e-6


# --- Digital Surf variants ----------------------------------------------------------------

def test_sur_units_offset_and_missing_marker(tmp_path):
    counts = (_grid() * 10).astype(np.int32)
    counts[1, 1] = counts.min() - 2
    counts[3, 4] = np.iinfo(np.int32).min
    path = write_sur(tmp_path / "s.sur", counts, dx=0.5, dy=0.25, dz=0.001, unit="um",
                     special_points=1, zmin=0, z_offset=2.0)
    hm = read_heightmap(path)
    assert (hm.dx, hm.dy) == pytest.approx((0.5e-6, 0.25e-6))
    assert not hm.valid[1, 1] and not hm.valid[3, 4] and hm.valid.sum() == counts.size - 2
    expect = (counts * 0.001 + 2.0) * 1e-6
    np.testing.assert_allclose(hm.heights[hm.valid], expect[hm.valid], rtol=1e-6)


def test_sur_micro_sign_unit(tmp_path):
    path = write_sur(tmp_path / "mu.sur", _grid(), dx=1.0, dy=1.0, dz=1.0, unit="\u00b5m")
    assert read_heightmap(path).dx == pytest.approx(1e-6)


# --- round trips ---------------------------------------------------------------------------

def _known_map(ny=5, nx=7, dx=2e-6, dy=3e-6):
    rng = np.random.default_rng(1)
    h = rng.normal(0, 1e-6, (ny, nx))
    valid = np.ones((ny, nx), bool)
    valid[1, 2] = False
    return check_heightmap(h, dx, dy, source="known", valid=valid)


def test_npz_round_trip(tmp_path):
    hm = _known_map()
    write_npz(tmp_path / "m.npz", hm)
    back = read_heightmap(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.heights, hm.heights)
    np.testing.assert_array_equal(back.valid, hm.valid)
    assert (back.dx, back.dy) == (hm.dx, hm.dy)


def test_csv_round_trip(tmp_path):
    hm = _known_map()
    write_text(tmp_path / "m.csv", hm, unit="um")
    back = read_heightmap(tmp_path / "m.csv")
    np.testing.assert_allclose(back.heights[hm.valid], hm.heights[hm.valid], rtol=1e-12)
    np.testing.assert_array_equal(back.valid, hm.valid)
    assert back.dx == pytest.approx(hm.dx) and back.dy == pytest.approx(hm.dy)


def test_tiff_float_round_trip_with_resolution_tags(tmp_path):
    import tifffile

    hm = _known_map()
    data = np.where(hm.valid, hm.heights, np.nan).astype(np.float32)
    tifffile.imwrite(tmp_path / "m.tif", data, resolution=(1e-2 / hm.dx, 1e-2 / hm.dy),
                     resolutionunit="CENTIMETER")
    back = read_heightmap(tmp_path / "m.tif")
    np.testing.assert_allclose(back.heights[hm.valid], data[hm.valid], rtol=1e-7)
    np.testing.assert_array_equal(back.valid, hm.valid)
    assert back.dx == pytest.approx(hm.dx) and back.dy == pytest.approx(hm.dy)


def test_tiff_uint16_is_nanometre_counts_and_default_spacing(tmp_path):
    import tifffile

    counts = np.arange(12, dtype=np.uint16).reshape(3, 4) * 100
    tifffile.imwrite(tmp_path / "c.tif", counts)
    hm = read_heightmap(tmp_path / "c.tif")
    np.testing.assert_allclose(hm.heights, counts * 1e-9)
    assert (hm.dx, hm.dy) == (1e-6, 1e-6)


@pytest.mark.parametrize("dpi", [72, 96])
def test_tiff_display_dpi_is_not_taken_as_spacing(tmp_path, dpi):
    """72 or 96 pixels per inch (what image software writes) would make a 1 um scan 350 or
    265 um per pixel: the reader ignores it, assumes the default and says so; a real
    per-inch spacing (25400 dpi = 1 um) is kept."""
    import tifffile

    data = np.zeros((3, 4), np.float32)
    tifffile.imwrite(tmp_path / "d.tif", data, resolution=(dpi, dpi), resolutionunit="INCH")
    hm = read_heightmap(tmp_path / "d.tif")
    assert (hm.dx, hm.dy) == (1e-6, 1e-6)
    assert any(f"{dpi} dpi" in w for w in hm.warnings), hm.warnings
    assert hm.provenance["spacing"].startswith("default")
    tifffile.imwrite(tmp_path / "s.tif", data, resolution=(25400, 12700), resolutionunit="INCH")
    hm = read_heightmap(tmp_path / "s.tif")
    assert (hm.dx, hm.dy) == pytest.approx((1e-6, 2e-6)) and not hm.warnings


def test_tiff_imagej_unit_and_json_sidecar(tmp_path):
    import tifffile

    counts = np.arange(12, dtype=np.uint16).reshape(3, 4)
    tifffile.imwrite(tmp_path / "ij.tif", counts, imagej=True, resolution=(2.0, 4.0),
                     metadata={"unit": "micron"})
    hm = read_heightmap(tmp_path / "ij.tif")
    assert (hm.dx, hm.dy) == pytest.approx((0.5e-6, 0.25e-6))
    (tmp_path / "ij.json").write_text(json.dumps(
        {"dx": "3 um", "z_scale": 1e-8, "z_offset": 1e-6, "nodata": 5}))
    hm = read_heightmap(tmp_path / "ij.tif")
    assert (hm.dx, hm.dy) == pytest.approx((3e-6, 3e-6))
    assert not hm.valid[1, 1] and hm.valid.sum() == 11
    assert hm.heights[2, 3] == pytest.approx(1e-6 + 11 * 1e-8)


@pytest.mark.parametrize("text, expect_dx", [
    ("# dx = 2 um\n# dy = 3 um\n# unit = nm\n1, 2, 3\n4, , 6\n7, 8, 9\n", 2e-6),
    ("1;2,5;3\n4;NaN;6\n7;8;9\n", 1e-6),
    ("# xy_unit: mm\n# dx: 0.002\n1\t2\t3\n4\tnan\t6\n7 8 9\n", 2e-6),
    ("ncols 3\nnrows 3\ncellsize 2e-6\nnodata_value -9999\n1 2 3\n4 -9999 6\n7 8 9\n", 2e-6),
])
def test_text_grid_variants(tmp_path, text, expect_dx):
    path = tmp_path / "g.txt"
    path.write_text(text)
    hm = read_heightmap(path)
    assert hm.shape == (3, 3) and hm.valid.sum() == 8 and not hm.valid[1, 1]
    assert hm.dx == pytest.approx(expect_dx)
    if "unit = nm" in text:
        assert hm.dy == pytest.approx(3e-6) and hm.heights[2, 2] == pytest.approx(9e-9)
    if "2,5" in text:
        assert hm.heights[0, 1] == 2.5


def test_text_errors_name_the_line(tmp_path):
    (tmp_path / "bad.csv").write_text("1,2,3\n4,five,6\n7,8,9\n")
    with pytest.raises(InputError, match="line 2: 'five' is not a number"):
        read_heightmap(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n7,8,9\n")
    with pytest.raises(InputError, match="line 2: 2 values"):
        read_heightmap(tmp_path / "ragged.csv")


def test_readers_return_heightmaps_with_the_source_path(tmp_path):
    (tmp_path / "g.csv").write_text("1,2,3\n4,5,6\n7,8,9\n")
    hm = read_heightmap(tmp_path / "g.csv")
    assert isinstance(hm, HeightMap) and hm.source == str(tmp_path / "g.csv")


def test_png_conversion_matches_hand_computed_srgb(tmp_path):
    """Linear 0.2 is sRGB 1.055 * 0.2 ** (1 / 2.4) - 0.055 = 0.48453 -> 123.56 -> 124; 0.5 ->
    0.73536 -> 187.52 -> 188; 0.001 is on the linear segment: 12.92 * 0.001 * 255 = 3.29 -> 3;
    values past 1 clip to 255. Gray (H, W, 1) is written as one channel, bool as 0/255, and
    display values (``linear=False``) are only scaled."""
    from PIL import Image

    from scratchlight.io import write_png
    from scratchlight.io.images import png_bytes

    def read(path):
        with Image.open(path) as im:
            return im.mode, np.asarray(im)

    rgb = np.array([[[0.2, 0.5, 0.001], [1.7, 0.0, 0.2]]], np.float32)
    write_png(tmp_path / "rgb.png", rgb)
    mode, px = read(tmp_path / "rgb.png")
    assert mode == "RGB"
    np.testing.assert_array_equal(px, [[[124, 188, 3], [255, 0, 124]]])
    write_png(tmp_path / "gray.png", np.full((2, 3, 1), 0.5, np.float32))
    assert read(tmp_path / "gray.png")[0] == "L" and (read(tmp_path / "gray.png")[1] == 188).all()
    write_png(tmp_path / "mask.png", np.array([[True, False]]))
    np.testing.assert_array_equal(read(tmp_path / "mask.png")[1], [[255, 0]])
    write_png(tmp_path / "display.png", np.array([[0.5, 0.2]], np.float32), linear=False)
    np.testing.assert_array_equal(read(tmp_path / "display.png")[1], [[128, 51]])
    # the fast (table) tone map gives the same pixels here, and bytes read back as written
    assert (tmp_path / "rgb.png").read_bytes() == png_bytes(rgb)
    import io as stdio

    _, fast = read(stdio.BytesIO(png_bytes(rgb, fast=True, compress_level=1)))
    np.testing.assert_array_equal(fast, px)

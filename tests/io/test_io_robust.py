"""Every class of silent wrong read the readers once had, on small files written here: each
file is read right (checked against the values it was written from) or refused with a
reason. Also the provenance of spacing and heights, warnings, and the one-line errors of
the command line for options, outputs and pipes."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

from scratchlight.errors import InputError, InputWarning
from scratchlight.io import read_heightmap, write_json
from scratchlight.io.fields import fields_available

from heightmap_files import sur_header, write_sur, write_x3p, x3p_main_xml
from io_samples import gwyddion_text, koala_text, write_park_tiff, xyz_points

GRID = np.arange(20, dtype=np.float64).reshape(4, 5) + 0.5 * np.sin(np.arange(20)).reshape(4, 5)


def _cli(args, cwd, **env):
    e = dict(os.environ, PYTHONWARNINGS="ignore", **env)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.abspath("src"), e.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, "-m", "scratchlight.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=e, timeout=120)


def _one_error_line(proc, *words):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("scratchlight: error: ")
    for w in words:
        assert w in lines[0], lines[0]


# 1. text point tables -------------------------------------------------------------------

def test_xyz_points_on_a_lattice_are_read_as_the_grid(tmp_path):
    p = tmp_path / "points.txt"
    np.savetxt(p, xyz_points(GRID * 1e-9, 0.5e-6, 0.25e-6))
    hm = read_heightmap(p)
    assert hm.shape == (4, 5)
    assert (hm.dx, hm.dy) == pytest.approx((0.5e-6, 0.25e-6), rel=1e-9)
    np.testing.assert_allclose(hm.heights, GRID * 1e-9, rtol=1e-12)
    assert hm.provenance["spacing"].startswith("file coordinates")


def test_xyz_points_with_missing_nodes_and_column_names(tmp_path):
    pts = xyz_points(GRID, 2.0, 3.0, drop=3)
    p = tmp_path / "named.csv"
    p.write_text("Z[nm],X[um],Y[um]\n" + "\n".join(f"{z!r},{x!r},{y!r}" for x, y, z in pts.tolist()))
    hm = read_heightmap(p)
    assert hm.shape == (4, 5) and hm.valid.sum() == 17
    assert (hm.dx, hm.dy) == pytest.approx((2e-6, 3e-6))
    np.testing.assert_allclose(hm.heights[hm.valid], (GRID * 1e-9)[hm.valid], rtol=1e-12)


def test_scattered_points_and_line_scans_are_refused(tmp_path):
    rng = np.random.default_rng(3)
    np.savetxt(tmp_path / "cloud.txt", rng.random((40, 3)))
    with pytest.raises(InputError, match="scattered point cloud"):
        read_heightmap(tmp_path / "cloud.txt")
    np.savetxt(tmp_path / "profile.txt", rng.random((40, 2)))
    with pytest.raises(InputError, match="line scan"):
        read_heightmap(tmp_path / "profile.txt")


def test_three_columns_with_a_spacing_header_are_a_grid(tmp_path):
    p = tmp_path / "narrow.csv"
    p.write_text("# dx = 1 um\n" + "\n".join(",".join(map(str, r)) for r in np.arange(30).reshape(10, 3)))
    assert read_heightmap(p).shape == (10, 3)


# 2. Gwyddion and Koala text headers -----------------------------------------------------

@pytest.mark.parametrize("german", [False, True])
def test_gwyddion_export_sets_spacing_and_height_unit(tmp_path, german):
    p = tmp_path / "gwy.txt"
    p.write_text(gwyddion_text(GRID, "10.00 µm", "6.000 µm", "nm", german),
                 encoding="latin-1" if german else "utf-8")
    hm = read_heightmap(p)
    assert (hm.dx, hm.dy) == pytest.approx((2e-6, 1.5e-6))  # Width / columns, Height / rows
    np.testing.assert_allclose(hm.heights, GRID * 1e-9, rtol=1e-12)
    assert "Value units" in hm.provenance["heights"] and hm.warnings == ()


def test_gwyddion_channel_that_is_not_a_length_is_refused(tmp_path):
    p = tmp_path / "phase.txt"
    p.write_text(gwyddion_text(GRID, "10 µm", "8 µm", "deg"))
    with pytest.raises(InputError, match="not a length"):
        read_heightmap(p)


def test_gwyddion_export_of_two_channels_is_refused(tmp_path):
    p = tmp_path / "two.txt"
    p.write_text(gwyddion_text(GRID, "10 µm", "8 µm", "m") + gwyddion_text(GRID, "10 µm", "8 µm", "m"))
    with pytest.raises(InputError, match="header line after the data"):
        read_heightmap(p)


def test_koala_export_converts_phase_to_height(tmp_path):
    p = tmp_path / "koala.txt"
    p.write_text(koala_text(GRID, 2.5e-7, 2e-7))
    hm = read_heightmap(p)
    assert (hm.dx, hm.dy) == pytest.approx((2.5e-7, 2.5e-7))
    np.testing.assert_allclose(hm.heights, GRID * 2e-7, rtol=1e-12)
    p.write_text(koala_text(GRID, 2.5e-7, 2e-7).replace("h=4", "h=5"))
    with pytest.raises(InputError, match="header says h 5"):
        read_heightmap(p)


def test_header_line_not_understood_is_a_warning(tmp_path):
    p = tmp_path / "unknown.txt"
    p.write_text("# dx = 1 um\n# Scan speed: 3 mm/s\n1 2 3\n4 5 6\n7 8 9\n")
    with pytest.warns(InputWarning, match="Scan speed: 3 mm/s"):
        read_heightmap(p)


def test_two_spacings_that_disagree_are_refused(tmp_path):
    p = tmp_path / "both.txt"
    p.write_text("# dx = 1 um\n" + gwyddion_text(GRID, "10 µm", "8 µm", "m"))
    with pytest.raises(InputError, match="two different x spacings"):
        read_heightmap(p)


# 3. TIFFs that are pictures, vendor TIFFs ------------------------------------------------

@pytest.mark.parametrize("kind, problem", [("rgb", "RGB colour image"), ("palette", "palette"),
                                           ("grey8", "8-bit grey image")])
def test_pictures_are_not_read_as_heights(tmp_path, kind, problem):
    import tifffile

    p = tmp_path / f"{kind}.tif"
    if kind == "rgb":
        tifffile.imwrite(p, np.zeros((8, 8, 3), np.uint8), photometric="rgb")
    elif kind == "palette":
        tifffile.imwrite(p, np.zeros((8, 8), np.uint8), colormap=np.zeros((3, 256), np.uint16))
    else:
        tifffile.imwrite(p, np.zeros((8, 8), np.uint8))
    with pytest.raises(InputError, match=problem):
        read_heightmap(p)


def test_park_systems_tiff_is_read_from_its_private_tags(tmp_path, monkeypatch):
    counts = np.arange(20, dtype=np.int16).reshape(4, 5)
    p = write_park_tiff(tmp_path / "park.tif", counts, 10.0, 8.0, 0.01)
    if fields_available():
        hm = read_heightmap(p)
        assert (hm.dx, hm.dy) == pytest.approx((2e-6, 2e-6))
        # heights are counts x 0.01 um; the file's first data line is the image's bottom
        np.testing.assert_allclose(hm.heights, counts[::-1] * 1e-8, rtol=1e-9)
    monkeypatch.setattr("scratchlight.io.fields.fields_available", lambda: False)
    with pytest.raises(InputError, match="Park Systems.*SurfaceTopography"):
        read_heightmap(p)


# 4. binary payload that does not match its header -----------------------------------------

def test_x3p_whose_data_type_was_changed_is_refused(tmp_path):
    p = tmp_path / "retyped.x3p"
    write_x3p(p, GRID * 1e-6, 1e-6, 1e-6, dtype="D",
              main_xml=x3p_main_xml(5, 4, 1e-6, 1e-6, dtype="I"))
    with pytest.raises(InputError, match="needs exactly 40"):
        read_heightmap(p)


def test_sur_whose_point_count_disagrees_with_its_grid_is_refused(tmp_path):
    p = write_sur(tmp_path / "ok.sur", np.arange(20).reshape(4, 5), 1.0, 1.0, 0.001)
    raw = bytearray(p.read_bytes())
    raw[108:112] = struct.pack("<i", 4)  # xres 5 -> 4: the rows would come out sheared
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="header declares 20 points"):
        read_heightmap(p)
    raw[116:120] = struct.pack("<I", 16)  # consistent header, but 4 bytes of data left over
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="does not describe this data"):
        read_heightmap(p)


# 5. provenance and default-spacing warnings ------------------------------------------------

def test_default_spacing_is_a_warning_and_named_in_info(tmp_path):
    np.save(tmp_path / "h.npy", GRID * 1e-6)
    with pytest.warns(InputWarning, match="states no spacing; 1 um assumed"):
        hm = read_heightmap(tmp_path / "h.npy")
    assert hm.provenance["spacing"].startswith("default")
    proc = _cli(["info", "--json", "h.npy"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("\n") == 1 and "warning: h.npy" in proc.stderr
    assert json.loads(proc.stdout)["sources"]["spacing"].startswith("default")


def test_info_json_names_the_header_as_source(tmp_path):
    write_x3p(tmp_path / "a.x3p", GRID * 1e-6, 1e-6, 2e-6)
    proc = _cli(["info", "--json", "a.x3p"], tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert json.loads(proc.stdout)["sources"]["spacing"].startswith("file header")


# 6. sizes checked before allocating or inflating --------------------------------------------

def test_grid_above_the_point_limit_says_the_memory_needed(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_MAX_POINTS", "10")
    write_x3p(tmp_path / "a.x3p", GRID, 1e-6, 1e-6)
    with pytest.raises(InputError, match=r"5 x 4 = 20 points would need about .* of memory"):
        read_heightmap(tmp_path / "a.x3p")


def test_x3p_zip_bomb_is_refused_before_inflating(tmp_path):
    p = tmp_path / "bomb.x3p"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("main.xml", x3p_main_xml(5, 4, 1e-6, 1e-6))
        z.writestr("bindata/data.bin", bytes(200_000_000))  # inflates to 200 MB
    assert p.stat().st_size < 500_000
    with pytest.raises(InputError, match="needs exactly 160"):
        read_heightmap(p)


def test_compressed_sur_bomb_is_refused(tmp_path):
    need = 4 * 5 * 4
    stream = zlib.compress(bytes(50_000_000), 9)
    table = struct.pack("<I", 1) + struct.pack("<II", need, len(stream))
    head = sur_header(5, 4, 1.0, 1.0, 0.001, signature=b"DSCOMPRESSED")
    (tmp_path / "bomb.sur").write_bytes(head + table + stream)
    with pytest.raises(InputError, match="inflates to more than the 80 bytes"):
        read_heightmap(tmp_path / "bomb.sur")


def test_npy_with_an_absurd_shape_is_refused_from_its_header(tmp_path):
    p = tmp_path / "huge.npy"
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }"
    header = header.ljust(117) + "\n"
    p.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + bytes(64))
    with pytest.raises(InputError, match="would need about 447.0 GiB of memory"):
        read_heightmap(p)


# 7. values and options -------------------------------------------------------------------

@pytest.mark.parametrize("value, problem", [("1e308", "beyond"), ("inf", "infinite")])
def test_absurd_heights_in_text_are_refused(tmp_path, value, problem):
    p = tmp_path / "big.csv"
    p.write_text(f"# dx = 1 um\n{value},2,3\n4,5,6\n7,8,9\n")
    with pytest.raises(InputError, match=problem):
        read_heightmap(p)


def test_wide_prefilter_of_a_long_grid_is_exact_and_fast():
    from scipy import ndimage

    from scratchlight.surface.prepare import _gaussian_blur

    h = np.random.default_rng(0).random((3, 4000))
    for sigma in (3.0, 40.0, 900.0):
        np.testing.assert_allclose(_gaussian_blur(h, sigma),
                                   ndimage.gaussian_filter(h, sigma, mode="nearest"), atol=1e-12)


@pytest.mark.parametrize("args, where", [
    (["--lam", "inf"], "--lam"), (["--lr", "nan"], "--lr"), (["--azimuth", "inf"], "--azimuth"),
    (["--max-size", "-1"], "--max-size"), (["--max-size", "1"], "--max-size"),
    (["--crop", "1.5,0,3,3"], "--crop"), (["--resolution", "100000"], "--resolution"),
    (["--envmap-size", "100000x100000"], "--envmap-size"),
])
@pytest.mark.slow
def test_unusable_option_values_are_one_line_errors(tmp_path, args, where):
    (tmp_path / "flat.csv").write_text("# dx = 1 um\n0,0,0\n0,0,0\n0,0,0\n")
    proc = _cli(["optimize", "flat.csv", "--out", "res", "--iterations", "1", *args], tmp_path)
    _one_error_line(proc, where)
    assert sorted(os.listdir(tmp_path)) == ["flat.csv"]


def test_output_inside_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "flat.csv").write_text("# dx = 1 um\n0,0,0\n0,0,0\n0,0,0\n")
    (tmp_path / "afile").write_text("")
    proc = _cli(["scratchmap", "flat.csv", "--out", "afile/map.png"], tmp_path)
    _one_error_line(proc, "afile")


@pytest.mark.slow
def test_info_into_a_closed_pipe_prints_no_traceback(tmp_path):
    write_x3p(tmp_path / "a.x3p", GRID * 1e-6, 1e-6, 1e-6)
    env = dict(os.environ, PYTHONPATH=os.path.abspath("src"))
    proc = subprocess.run(f"{sys.executable} -m scratchlight.cli info a.x3p | head -c 1",
                          shell=True, capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=60)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


# 8. helpful messages -----------------------------------------------------------------------

def test_utf16_text_is_decoded(tmp_path):
    p = tmp_path / "u16.txt"
    p.write_text("# dx = 2 um\n1 2 3\n4 5 6\n7 8 9\n", encoding="utf-16")
    hm = read_heightmap(p)
    assert hm.dx == pytest.approx(2e-6) and hm.heights[2, 2] == 9


def test_npy_of_objects_never_suggests_allow_pickle(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[1, None, 3]] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="Python objects") as e:
        read_heightmap(tmp_path / "obj.npy")
    assert "allow_pickle" not in str(e.value)


def test_directories_and_fifos_are_called_what_they_are(tmp_path):
    (tmp_path / "scan.x3p").mkdir()
    with pytest.raises(InputError, match="is a directory"):
        read_heightmap(tmp_path / "scan.x3p")
    os.mkfifo(tmp_path / "pipe.csv")
    with pytest.raises(InputError, match="named pipe"):
        read_heightmap(tmp_path / "pipe.csv")
    os.symlink(tmp_path / "nowhere.csv", tmp_path / "link.csv")
    with pytest.raises(InputError, match="broken symbolic link"):
        read_heightmap(tmp_path / "link.csv")


# 9. permissions ----------------------------------------------------------------------------

def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640

"""User mistakes through the real command line: exit code 2, one line on stderr naming the
file and the problem, no traceback, and no output (or temporary) file left behind."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from heightmap_files import DATA_DIR, write_sur, write_x3p, x3p_main_xml


def _run(args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "scratchlight.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def _assert_one_line_error(proc, names: str, problem: str, tmp_path, inputs):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    err = proc.stderr
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and err.endswith("\n") and err.count("\n") == 1, err
    line = lines[0]
    assert line.startswith("scratchlight: error: ")
    assert names in line, line
    assert problem in line, line
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in inputs)
    assert left == [], f"left behind: {left}"


def _render(path, tmp_path, *light):
    light = light or ("--constant", "0.5")
    return _run(["render", path, *light, "--out", tmp_path / "x.png", "--resolution", "16",
                 "--spp", "1"], tmp_path)


def _sample(ny=4, nx=5):
    return np.arange(ny * nx, dtype=np.float64).reshape(ny, nx) * 1e-7


def _case_missing_file(tmp):
    return tmp / "nowhere.x3p", "no such file"


def _case_unknown_extension(tmp):
    p = tmp / "surface.hmap"
    p.write_text("1 2 3\n")
    return p, "unknown height-map extension"


def _case_corrupt_zip(tmp):
    p = tmp / "corrupt.x3p"
    p.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    return p, "corrupt zip"


def _case_corrupt_xml(tmp):
    p = tmp / "badxml.x3p"
    xml = x3p_main_xml(5, 4, 1e-6, 1e-6)
    write_x3p(p, _sample(), 1e-6, 1e-6, main_xml=xml[: len(xml) // 2])
    return p, "corrupt main.xml"


def _case_truncated_x3p(tmp):
    p = tmp / "short.x3p"
    write_x3p(p, _sample(), 1e-6, 1e-6, truncate_to=50)
    return p, "truncated"


def _case_truncated_sur(tmp):
    p = tmp / "short.sur"
    write_sur(p, np.arange(20).reshape(4, 5), 1.0, 1.0, 0.001, truncate_to=30)
    return p, "truncated"


def _case_truncated_real_sur(tmp):
    p = tmp / "cut.sur"
    p.write_bytes((DATA_DIR / "milled-face.sur").read_bytes()[:100_000])
    return p, "truncated"


def _case_no_sur_signature(tmp):
    p = tmp / "fake.sur"
    p.write_bytes(b"\x00" * 1024)
    return p, "not a Digital Surf file"


def _case_all_missing(tmp):
    p = tmp / "void.csv"
    p.write_text("nan,nan,nan\nnan,,nan\nnan,nan,nan\n")
    return p, "every point of the height map is missing"


def _case_all_missing_x3p(tmp):
    p = tmp / "void.x3p"
    write_x3p(p, np.full((4, 5), np.nan), 1e-6, 1e-6)
    return p, "every point of the height map is missing"


def _case_too_small(tmp):
    p = tmp / "small.csv"
    p.write_text("1,2\n3,4\n")
    return p, "smaller than 3 x 3"


def _case_zero_spacing(tmp):
    p = tmp / "zero.csv"
    p.write_text("# dx = 0\n1,2,3\n4,5,6\n7,8,9\n")
    return p, "spacing dx must be positive"


def _case_negative_spacing(tmp):
    p = tmp / "negative.npz"
    np.savez(p, heights=_sample(), dx=1e-6, dy=-1e-6)
    return p, "spacing dy must be positive"


def _case_negative_spacing_x3p(tmp):
    p = tmp / "negative.x3p"
    write_x3p(p, _sample(), -1e-6, 1e-6)
    return p, "spacing dx must be positive"


def _case_text_not_numbers(tmp):
    p = tmp / "words.txt"
    p.write_text("height map of part 7\n1 2 3\n")
    return p, "line 1"


CASES = [_case_missing_file, _case_unknown_extension, _case_corrupt_zip, _case_corrupt_xml,
         _case_truncated_x3p, _case_truncated_sur, _case_truncated_real_sur,
         _case_no_sur_signature, _case_all_missing, _case_all_missing_x3p, _case_too_small,
         _case_zero_spacing, _case_negative_spacing, _case_negative_spacing_x3p,
         _case_text_not_numbers]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[6:] for c in CASES])
@pytest.mark.slow
def test_render_rejects_bad_height_map(tmp_path, case):
    if case is _case_truncated_real_sur and not DATA_DIR.is_dir():
        pytest.skip("no sample data")
    path, problem = case(tmp_path)
    inputs = {p.name for p in tmp_path.iterdir()}
    proc = _render(path, tmp_path)
    _assert_one_line_error(proc, str(path), problem, tmp_path, inputs)


@pytest.mark.parametrize("case", [_case_missing_file, _case_corrupt_xml, _case_truncated_sur],
                         ids=["missing_file", "corrupt_xml", "truncated_sur"])
def test_info_rejects_bad_height_map(tmp_path, case):
    path, problem = case(tmp_path)
    inputs = {p.name for p in tmp_path.iterdir()}
    proc = _run(["info", path], tmp_path)
    _assert_one_line_error(proc, str(path), problem, tmp_path, inputs)
    assert proc.stdout == ""


def _write_exr_raw(path, data):
    """Write an EXR with Mitsuba's Bitmap directly (write_exr refuses non-finite values)."""
    import scratchlight

    scratchlight.use_device("cpu")
    import mitsuba as mi

    mi.Bitmap(np.ascontiguousarray(data, np.float32),
              pixel_format=mi.Bitmap.PixelFormat.RGB).write(str(path))


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.slow
def test_render_rejects_non_finite_envmap(tmp_path, bad):
    hm = tmp_path / "flat.csv"
    hm.write_text("0,0,0\n0,0,0\n0,0,0\n")
    env = np.full((8, 16, 3), 0.5, np.float32)
    env[3, 5, 1] = bad
    _write_exr_raw(tmp_path / "env.exr", env)
    inputs = {p.name for p in tmp_path.iterdir()}
    proc = _render(hm, tmp_path, "--envmap", tmp_path / "env.exr")
    _assert_one_line_error(proc, str(tmp_path / "env.exr"), "non-finite", tmp_path, inputs)


@pytest.mark.slow
def test_render_rejects_missing_envmap(tmp_path):
    hm = tmp_path / "flat.csv"
    hm.write_text("0,0,0\n0,0,0\n0,0,0\n")
    inputs = {p.name for p in tmp_path.iterdir()}
    proc = _render(hm, tmp_path, "--envmap", tmp_path / "nothere.exr")
    _assert_one_line_error(proc, str(tmp_path / "nothere.exr"), "no such file", tmp_path, inputs)


@pytest.mark.slow
def test_corrupt_zip_member_is_reported(tmp_path):
    # a valid zip whose data.bin member is damaged after writing (bad CRC / deflate stream)
    path = write_x3p(tmp_path / "crc.x3p", _sample(20, 30), 1e-6, 1e-6)
    raw = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("bindata/data.bin")
    start = info.header_offset + 30 + len(info.filename) + 10
    raw[start:start + 20] = b"\xff" * 20
    path.write_bytes(bytes(raw))
    inputs = {p.name for p in tmp_path.iterdir()}
    proc = _render(path, tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    _assert_one_line_error(proc, str(path), "corrupt", tmp_path, inputs)

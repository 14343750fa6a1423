"""OpenEXR input and output through the OpenEXR library, checked against Mitsuba's own
Bitmap as the independent reader and writer; bounds and damaged files; and the thread cap
(``SCRATCHLIGHT_THREADS``), which Mitsuba's Bitmap could not live with (its EXR code
deadlocks when Dr.Jit's pool has one thread)."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.io.guards import point_limit
from scratchlight.io.images import read_envmap, read_exr, write_exr

RNG = np.random.default_rng(3)


def _mitsuba():
    import scratchlight

    scratchlight.use_device("cpu")
    import mitsuba as mi

    return mi


def test_mitsuba_reads_what_write_exr_writes(tmp_path):
    image = RNG.random((13, 21, 3), dtype=np.float32) * 40
    write_exr(tmp_path / "a.exr", image)
    mi = _mitsuba()
    np.testing.assert_array_equal(np.array(mi.Bitmap(str(tmp_path / "a.exr"))), image)
    np.testing.assert_array_equal(read_exr(tmp_path / "a.exr"), image)


def test_a_gray_image_is_written_as_rgb(tmp_path):
    gray = RNG.random((5, 6), dtype=np.float32)
    write_exr(tmp_path / "g.exr", gray)
    np.testing.assert_array_equal(read_exr(tmp_path / "g.exr"), np.repeat(gray[..., None], 3, 2))


@pytest.mark.parametrize("pixel_format,channels", [("RGB", 3), ("RGBA", 4), ("Y", 1)])
def test_read_exr_reads_what_mitsuba_writes(tmp_path, pixel_format, channels):
    mi = _mitsuba()
    data = RNG.random((9, 7, channels), dtype=np.float32)
    path = str(tmp_path / "m.exr")
    mi.Bitmap(data, pixel_format=getattr(mi.Bitmap.PixelFormat, pixel_format)).write(path)
    got = read_exr(path)
    assert got.dtype == np.float32 and got.shape == data.shape
    np.testing.assert_array_equal(got, data)
    if channels == 1:
        np.testing.assert_array_equal(read_envmap(path), np.repeat(data, 3, 2))


def test_half_float_channels_are_read_as_float32(tmp_path):
    import OpenEXR

    data = RNG.random((4, 5, 3)).astype(np.float16)
    with OpenEXR.File({"type": OpenEXR.scanlineimage}, {"RGB": data}) as f:
        f.write(str(tmp_path / "h.exr"))
    got = read_exr(tmp_path / "h.exr")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, data.astype(np.float32))


def test_damaged_and_missing_files_are_one_line_errors(tmp_path):
    good = tmp_path / "good.exr"
    write_exr(good, np.ones((8, 8, 3), np.float32))
    cut = tmp_path / "cut.exr"
    cut.write_bytes(good.read_bytes()[:60])
    for path in (cut, tmp_path / "none.exr"):
        with pytest.raises(InputError) as e:
            read_exr(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


def _declare_window(path, width, height):
    """Rewrite the dataWindow attribute of a scanline EXR header in place."""
    raw = bytearray(path.read_bytes())
    at = raw.index(b"dataWindow\x00box2i\x00") + len(b"dataWindow\x00box2i\x00") + 4
    raw[at:at + 16] = struct.pack("<4i", 0, 0, width - 1, height - 1)
    path.write_bytes(bytes(raw))


def test_a_huge_declared_image_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.exr"
    write_exr(path, np.ones((4, 4, 3), np.float32))
    _declare_window(path, 200_000, 100_000)
    with pytest.raises(InputError, match="200000 x 100000"):
        read_exr(path)
    with point_limit(10, "--test"), pytest.raises(InputError, match="--test"):
        read_exr(tmp_path / "huge.exr")


def test_write_exr_leaves_no_file_for_non_finite_values(tmp_path):
    with pytest.raises(ValueError):
        write_exr(tmp_path / "nan.exr", np.full((4, 4), np.nan, np.float32))
    assert os.listdir(tmp_path) == []


_THREADS_PROBE = """
import numpy as np, drjit as dr, scratchlight
from scratchlight.io.images import read_exr, write_exr
scratchlight.use_device("cpu")
from scratchlight import compiled
write_exr("t.exr", np.ones((4, 4, 3), np.float32))
print(dr.thread_count(), compiled.threads(), read_exr("t.exr").shape)
"""


@pytest.mark.slow
def test_scratchlight_threads_caps_drjit_and_the_kernels(tmp_path):
    env = {**os.environ, "SCRATCHLIGHT_THREADS": "1"}
    env.pop("NUMBA_NUM_THREADS", None)
    proc = subprocess.run([sys.executable, "-c", _THREADS_PROBE], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["1", "1", "(4,", "4,", "3)"]


@pytest.mark.parametrize("text", ["0", "-2", "two", "1.5"])
def test_a_bad_thread_cap_names_the_variable(monkeypatch, text):
    from scratchlight.backend import thread_limit

    monkeypatch.setenv("SCRATCHLIGHT_THREADS", text)
    with pytest.raises(InputError, match="SCRATCHLIGHT_THREADS: must be a whole number"):
        thread_limit()


@pytest.mark.slow
def test_a_bad_thread_cap_is_one_line_from_the_command_line(tmp_path):
    (tmp_path / "flat.csv").write_text("0,0,0\n0,1e-6,0\n0,0,0\n")
    env = {**os.environ, "SCRATCHLIGHT_THREADS": "zero"}
    proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "render",
                           str(tmp_path / "flat.csv"), "--constant", "0.5", "--resolution", "8",
                           "--spp", "1", "--out", str(tmp_path / "x.png")],
                          env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "scratchlight: error: SCRATCHLIGHT_THREADS: must be a whole number of threads >= 1, "
        "got 'zero'"]
    assert not (tmp_path / "x.png").exists()

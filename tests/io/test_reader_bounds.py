"""Classes of hostile input the readers must bound, each on files written here: every codec
a container may use inflates no further than its declared size (zip's deflate, bzip2 and
LZMA; TIFF's LZW, PackBits, deflate), structure is bounded in element count and depth,
header parsing is linear in the line, sizes are checked before reading, ambiguous
containers are refused, messages stay on one line, and LZW/predictor TIFFs are read.

Memory bounds are asserted with ``tracemalloc`` (peak Python allocations while reading a
file that would inflate to 200 MB or more)."""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.io import read_heightmap

from heightmap_files import write_sur, x3p_main_xml

H = np.cumsum(np.random.default_rng(3).standard_normal((24, 32)), axis=1) * 1e-7
BOMB = 200_000_000  # bytes a bomb would inflate to


def _read_peak(path) -> tuple[Exception | None, int]:
    """(the error reading ``path`` raised or None, peak traced bytes while reading)."""
    tracemalloc.start()
    err = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read_heightmap(str(path))
    except InputError as e:
        err = e
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return err, peak


def _lying_zip(path, member: str, data: bytes, method: int, declared: int, extra=()) -> None:
    """A zip whose ``member`` holds ``data`` compressed by ``method`` but declares
    ``declared`` bytes (central directory and local header both patched)."""
    with zipfile.ZipFile(path, "w", method) as z:
        for name, content in extra:
            z.writestr(name, content)
        z.writestr(member, data)
    raw = bytearray(open(path, "rb").read())
    actual = struct.pack("<I", len(data))
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = 0
        while (pos := raw.find(sig, pos)) >= 0:
            name_len = struct.unpack_from("<H", raw, pos + (26 if sig == b"PK\x03\x04" else 28))[0]
            start = pos + (30 if sig == b"PK\x03\x04" else 46)
            if bytes(raw[start:start + name_len]) == member.encode() and \
                    raw[pos + at:pos + at + 4] == actual:
                struct.pack_into("<I", raw, pos + at, declared)
            pos += 4
    open(path, "wb").write(bytes(raw))


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


# 20. every codec bounded -----------------------------------------------------------------

@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA, zipfile.ZIP_DEFLATED])
def test_npz_members_of_every_zip_codec_are_read(tmp_path, method):
    p = tmp_path / "h.npz"
    with zipfile.ZipFile(p, "w", method) as z:
        z.writestr("heights.npy", _npy_bytes(H))
        z.writestr("dx.npy", _npy_bytes(np.array(2e-6)))
    hm = read_heightmap(str(p))
    assert np.array_equal(hm.heights, H) and hm.dx == 2e-6


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
@pytest.mark.slow
def test_npz_bomb_of_bzip2_or_lzma_never_inflates(tmp_path, method):
    need = _npy_bytes(H)
    p = tmp_path / "bomb.npz"
    _lying_zip(p, "heights.npy", need[:128] + bytes(BOMB), method, declared=len(need))
    err, peak = _read_peak(p)
    assert err is not None
    assert peak < 20_000_000, peak


@pytest.mark.slow
def test_x3p_bzip2_point_data_bomb_never_inflates(tmp_path):
    p = tmp_path / "bomb.x3p"
    _lying_zip(p, "bindata/data.bin", bytes(BOMB), zipfile.ZIP_BZIP2, declared=H.size * 8,
               extra=[("main.xml", x3p_main_xml(32, 24, 1e-6, 1e-6))])
    err, peak = _read_peak(p)
    assert err is not None and "data.bin" in str(err)
    assert peak < 20_000_000, peak


@pytest.mark.parametrize("compression", ["lzw", "packbits"])
@pytest.mark.slow
def test_tiff_bomb_of_lzw_or_packbits_is_refused_before_decoding(tmp_path, compression):
    import tifffile

    img = np.zeros((4000, 5000), np.float32)  # 80 MB of zeros, a few hundred KB packed
    p = tmp_path / "bomb.tif"
    tifffile.imwrite(p, img, compression=compression, rowsperstrip=4000)
    raw = bytearray(p.read_bytes())
    with tifffile.TiffFile(p) as tf:
        page = tf.pages[0]
        tags = {t.code: t for t in page.tags}
    # declare one row only: the one strip now inflates 4000 x beyond the image
    length = tags[257]
    struct.pack_into("<H" if length.dtype == 3 else "<I", raw, length.valueoffset, 1)
    rows = tags[278]
    struct.pack_into("<H" if rows.dtype == 3 else "<I", raw, rows.valueoffset, 1)
    p.write_bytes(bytes(raw))
    err, peak = _read_peak(p)
    assert err is not None and "inflates to more" in str(err), err
    assert peak < 20_000_000, peak


def test_lossy_tiff_codec_is_refused_in_one_line(tmp_path):
    import tifffile

    p = tmp_path / "photo.tif"
    tifffile.imwrite(p, (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64),
                     compression="jpeg")
    (tmp_path / "photo.json").write_text('{"dx": 1e-6, "z_scale": 1e-9}')
    with pytest.raises(InputError, match="JPEG"):
        read_heightmap(str(p))


# 25. valid LZW and predictor TIFFs --------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"compression": "lzw"},
                                    {"compression": "lzw", "predictor": 3},
                                    {"compression": "zlib", "predictor": 3},
                                    {"compression": "packbits"}])
def test_lzw_and_predictor_float_tiffs_are_read_as_written(tmp_path, kwargs):
    import tifffile

    p = tmp_path / "h.tif"
    values = H.astype(np.float32)
    tifffile.imwrite(p, values, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hm = read_heightmap(str(p))
    assert np.array_equal(hm.heights, values.astype(np.float64))


def test_lzw_horizontal_predictor_integer_tiff_equals_the_uncompressed_one(tmp_path):
    import tifffile

    counts = np.round(H * 1e9).astype(np.int32)
    a, b = tmp_path / "plain.tif", tmp_path / "lzw.tif"
    tifffile.imwrite(a, counts)
    tifffile.imwrite(b, counts, compression="lzw", predictor=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.array_equal(read_heightmap(str(a)).heights, read_heightmap(str(b)).heights)


# 21. structure bounded ----------------------------------------------------------------------

def _x3p_with_xml(path, xml: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("main.xml", xml)
        z.writestr("bindata/data.bin", H.astype("<f8").tobytes())


@pytest.mark.parametrize("xml, problem", [
    (b"<a>" + b"<b/>" * 3_000_000 + b"</a>", "elements"),
    (b"<a>" * 100_000 + b"</a>" * 100_000, "deeper"),
])
@pytest.mark.slow
def test_x3p_xml_of_millions_of_elements_or_deep_nesting_is_refused(tmp_path, xml, problem):
    p = tmp_path / "many.x3p"
    _x3p_with_xml(p, xml)
    err, peak = _read_peak(p)
    assert err is not None and problem in str(err), err
    assert peak < 60_000_000, peak  # the XML text itself is 12 MB; no tree is built


def test_deeply_nested_json_sidecar_is_one_line_error(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "h.tif", H.astype(np.float32))
    (tmp_path / "h.json").write_text("[" * 20_000 + "]" * 20_000)  # 40 KB
    with pytest.raises(InputError, match="nests too deeply"):
        read_heightmap(str(tmp_path / "h.tif"))


# 22. linear header parsing ------------------------------------------------------------------

@pytest.mark.parametrize("line", ["# a" + " " * 300_000 + "x", "a" * 300_000 + "==",
                                  "# k: " + "1" * 300_000 + "!"])
def test_a_long_header_line_is_parsed_in_linear_time(tmp_path, line):
    p = tmp_path / "h.txt"
    p.write_text(line + "\n# dx = 1 um\n" + "\n".join(" ".join(map(str, r)) for r in H * 1e6))
    t = time.perf_counter()
    try:
        read_heightmap(str(p))
    except InputError:
        pass  # a non-comment line of letters is bad data: refused, but quickly
    # the quadratic parse took minutes; a linear one a few milliseconds
    assert time.perf_counter() - t < 5.0


# 23. sizes first -------------------------------------------------------------------------------

def test_text_file_above_the_byte_limit_is_refused_by_its_size(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_MAX_POINTS", "100")
    p = tmp_path / "big.csv"
    p.write_bytes(b"# dx = 1 um\n" + b"1,2,3\n" * 400_000)  # 2.4 MB
    with pytest.raises(InputError, match="a text grid within the point limit"):
        read_heightmap(str(p))


def test_sur_followed_by_a_huge_tail_is_never_read_whole(tmp_path):
    p = tmp_path / "tail.sur"
    write_sur(p, np.round(H * 1e9).astype(np.int32), 1.0, 1.0, 0.001)
    with open(p, "ab") as f:
        f.write(bytes(100_000_000))
    err, peak = _read_peak(p)
    assert err is not None and "the header does not describe this data" in str(err)
    assert peak < 20_000_000, peak


def test_oversized_json_sidecar_is_refused_by_its_size(tmp_path):
    import tifffile

    tifffile.imwrite(tmp_path / "h.tif", H.astype(np.float32))
    (tmp_path / "h.json").write_text('{"dx": 1e-6, "note": "' + "x" * 2_000_000 + '"}')
    with pytest.raises(InputError, match="the JSON sidecar is"):
        read_heightmap(str(tmp_path / "h.tif"))


# 24. one line, whatever the name --------------------------------------------------------

def test_a_file_name_with_a_newline_stays_on_one_line(tmp_path):
    p = tmp_path / "bad\nname.sur"
    p.write_bytes(b"not a sur file at all" * 40)
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "scratchlight.cli", "info", str(p)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "bad\\nname.sur" in lines[0]


# 26. ambiguous containers -----------------------------------------------------------------

def test_zip_with_two_members_of_one_name_is_refused(tmp_path):
    p = tmp_path / "dup.x3p"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("main.xml", x3p_main_xml(32, 24, 1e-6, 1e-6))
            z.writestr("bindata/data.bin", H.astype("<f8").tobytes())
            z.writestr("bindata/data.bin", (H * 2).astype("<f8").tobytes())
    with pytest.raises(InputError, match="ambiguous"):
        read_heightmap(str(p))


def test_utf16_main_xml_with_a_dtd_is_refused(tmp_path):
    xml = x3p_main_xml(32, 24, 1e-6, 1e-6)
    body = xml.split("?>", 1)[1] if xml.startswith("<?xml") else xml
    doc = ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]>'
           + body).encode("utf-16")
    p = tmp_path / "dtd.x3p"
    _x3p_with_xml(p, doc)
    with pytest.raises(InputError, match="DTD"):
        read_heightmap(str(p))


def test_a_grid_larger_than_the_memory_left_is_refused_before_reading(tmp_path):
    """A header that declares a grid within the point limit but beyond what the process may
    still allocate (here ``ulimit -v`` of 2.5 GB) is refused from its header, in one line
    and at once, instead of failing (or swapping) part way through the read."""
    p = tmp_path / "big.x3p"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("main.xml", x3p_main_xml(10000, 9000, 1e-6, 1e-6))
        z.writestr("bindata/data.bin", bytes(8 * 10000))  # the header decides, not the data
    code = ("import resource, sys\n"
            "resource.setrlimit(resource.RLIMIT_AS, (int(2.5 * 2**30),) * 2)\n"
            "from scratchlight.errors import InputError\n"
            "from scratchlight.io import read_heightmap\n"
            "try:\n    read_heightmap(sys.argv[1])\n"
            "except InputError as e:\n    print(e)\n")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    message = proc.stdout.strip()
    assert "10000 x 9000 = 90,000,000 points would need about 4.0 GiB" in message, message
    assert "is available" in message and "\n" not in message
    assert time.monotonic() - start < 60

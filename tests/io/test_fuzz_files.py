"""Damaged variants of every native height-map format, through the real command line.

Each file is truncated at several points, has header bytes flipped, absurd or negative
sizes, a data type that does not match its payload, zip or zlib bombs, infinite values;
links, FIFOs and folders stand in for files. ``fuzz_runner.py`` runs ``scratchlight info``
and ``scratchlight scratchmap --out`` on all of them in one process under an address-space
limit of 2.5 GB; every run must end with exit 0 or 2, at most one line on stderr, no
traceback, nothing written on exit 2, within 30 s. A Hypothesis property does the same for
byte-level mutations in the library (every read returns a valid map or an InputError).
"""
from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest

from heightmap_files import DATA_DIR, sur_header, write_sur, write_x3p, x3p_main_xml
from io_samples import gwyddion_text, koala_text, xyz_points

ADDRESS_SPACE_LIMIT = int(2.5 * 2**30)
RUNNER = Path(__file__).with_name("fuzz_runner.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def _grid(ny=24, nx=32, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((ny, nx)), axis=1) * 1e-7


def _base_files(d: Path) -> dict[str, bytes]:
    """Small valid files of every native format (name -> bytes)."""
    import tifffile

    h = _grid()
    files = {}
    write_x3p(d / "b.x3p", h, 1e-6, 1e-6, valid=np.ones(h.shape, bool))
    files["grid.x3p"] = (d / "b.x3p").read_bytes()
    write_x3p(d / "b.x3p", (h * 1e9).astype(np.int16), 1e-6, 1e-6, dtype="I", z_increment=1e-9)
    files["int.x3p"] = (d / "b.x3p").read_bytes()
    counts = np.round(h * 1e9).astype(np.int32)
    write_sur(d / "b.sur", counts, 1.0, 1.0, 0.001)
    files["grid.sur"] = (d / "b.sur").read_bytes()
    raw = counts.astype("<i4").tobytes()
    stream = zlib.compress(raw)
    files["packed.sur"] = (sur_header(32, 24, 1.0, 1.0, 0.001, signature=b"DSCOMPRESSED")
                           + struct.pack("<III", 1, len(raw), len(stream)) + stream)
    for name, kwargs in (("float.tif", {}), ("zlib.tif", {"compression": "zlib"}),
                         ("tiled.tif", {"tile": (16, 16), "compression": "zlib"})):
        tifffile.imwrite(d / "b.tif", h.astype(np.float32), **kwargs)
        files[name] = (d / "b.tif").read_bytes()
    tifffile.imwrite(d / "b.tif", counts.astype(np.uint16), rowsperstrip=4)
    files["counts.tif"] = (d / "b.tif").read_bytes()
    files["grid.csv"] = ("# dx = 1 um\n" + "\n".join(",".join(f"{v:.6g}" for v in r) for r in h)).encode()
    files["gwy.txt"] = gwyddion_text(h * 1e9, "32 µm", "24 µm", "nm").encode()
    files["koala.txt"] = koala_text(h / 2e-7, 1e-6, 2e-7).encode()
    files["points.txt"] = "\n".join(" ".join(map(repr, p)) for p in xyz_points(h, 1e-6, 1e-6).tolist()).encode()
    np.save(d / "b.npy", h)
    files["grid.npy"] = (d / "b.npy").read_bytes()
    np.savez_compressed(d / "b.npz", heights=h, dx=1e-6, dy=1e-6)
    files["grid.npz"] = (d / "b.npz").read_bytes()
    for p in d.glob("b.*"):
        p.unlink()
    return files


def _mutations(name: str, data: bytes, rng) -> dict[str, bytes]:
    """Truncations, flipped header and payload bytes of one file (name -> bytes)."""
    stem, ext = name.rsplit(".", 1)
    out = {}
    n = len(data)
    for k, cut in enumerate(sorted({0, 1, 10, 100, n // 4, n // 2, 9 * n // 10, n - 1})):
        if 0 <= cut < n:
            out[f"{stem}-cut{k}.{ext}"] = data[:cut]
    for k in range(8):
        b = bytearray(data)
        span = min(n, 600) if k < 5 else n  # headers mostly, then anywhere
        for pos in rng.integers(0, span, size=1 + k % 3):
            b[pos] ^= int(rng.integers(1, 256))
        out[f"{stem}-flip{k}.{ext}"] = bytes(b)
    return out


def _zip_with(main_xml: str | bytes, data: bytes, extra=()) -> bytes:
    import io
    import warnings

    warnings.filterwarnings("ignore", "Duplicate name", UserWarning)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("main.xml", main_xml)
        z.writestr("bindata/data.bin", data)
        for member, content in extra:
            z.writestr(member, content)
    return buf.getvalue()


def _npy(shape_text: str, descr: str = "<f8", payload: bytes = b"") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}"
    header = header.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + payload


def _special_files(d: Path) -> dict[str, bytes]:
    """Hand-made damage: absurd sizes, type mismatches, bombs, non-finite values."""
    h = _grid()
    f64 = h.astype("<f8").tobytes()
    big = bytes(100_000_000)  # inflates to 100 MB; the archives stay near 100 KB
    files = {
        "x3p-size-negative.x3p": _zip_with(x3p_main_xml(-32, 24, 1e-6, 1e-6), f64),
        "x3p-size-huge.x3p": _zip_with(x3p_main_xml(2**31 - 1, 2**31 - 1, 1e-6, 1e-6), f64),
        "x3p-size-words.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6).replace(">32<", ">abc<"), f64),
        "x3p-type-I.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6, dtype="I"), f64),
        "x3p-type-F.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6, dtype="F"), f64),
        "x3p-bomb.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6), big),
        # a grid within the point limit whose data inflate to 720 MB: too much for the
        # address-space limit, which must end in the one-line error
        "x3p-bomb-grid.x3p": _zip_with(x3p_main_xml(10000, 9000, 1e-6, 1e-6), bytes(720_000_000)),
        "x3p-xml-bomb.x3p": _zip_with("<a>" + " " * 100_000_000 + "</a>", f64),
        "x3p-entities.x3p": _zip_with('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>', f64),
        "x3p-inf.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6),
                                 np.full(h.size, np.inf).astype("<f8").tobytes()),
        "x3p-1e308.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6),
                                   np.full(h.size, 1e308).astype("<f8").tobytes()),
        "x3p-spacing-inf.x3p": _zip_with(x3p_main_xml(32, 24, float("inf"), 1e-6), f64),
        "x3p-valid-bomb.x3p": _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6, valid_link=True), f64,
                                        [("bindata/valid.bin", big)]),
    }
    counts = np.round(h * 1e9).astype("<i4").tobytes()
    for label, change in (("xres-negative", (108, "<i", -32)), ("xres-huge", (108, "<i", 2**31 - 1)),
                          ("yres-huge", (112, "<i", 10**9)), ("points-wrong", (116, "<I", 100)),
                          ("bits-16", (98, "<H", 16)), ("bits-odd", (98, "<H", 12)),
                          ("comment-huge", (334, "<H", 65535)), ("dz-inf", (128, "<f", float("inf")))):
        head = bytearray(sur_header(32, 24, 1.0, 1.0, 0.001))
        struct.pack_into(change[1], head, change[0], change[2])
        files[f"sur-{label}.sur"] = bytes(head) + counts
    need = len(counts)
    bomb = zlib.compress(big, 9)
    head = sur_header(32, 24, 1.0, 1.0, 0.001, signature=b"DSCOMPRESSED")
    files["sur-bomb.sur"] = head + struct.pack("<III", 1, need, len(bomb)) + bomb
    files["sur-bomb-lie.sur"] = head + struct.pack("<III", 1, len(big), len(bomb)) + bomb
    files["sur-streams-huge.sur"] = head + struct.pack("<I", 2**31) + bytes(64)
    files["npy-huge.npy"] = _npy("(100000, 100000)")
    files["npy-negative.npy"] = _npy("(-5, 10)")
    files["npy-object.npy"] = _npy("(3, 3)", "|O", bytes(72))
    files["npy-1d.npy"] = _npy("(9,)", "<f8", bytes(72))
    files["npy-inf.npy"] = _npy("(3, 3)", "<f8", np.full(9, np.inf).tobytes())
    files["npy-complex.npy"] = _npy("(3, 3)", "<c16", bytes(144))
    files["npz-bomb.npz"] = _zip_npz("heights.npy", _npy("(5000, 5000)") + bytes(100_000_000))
    files["text-1e308.csv"] = b"# dx = 1 um\n1e308,2,3\n4,5,6\n7,8,9\n"
    files["text-inf.csv"] = b"# dx = 1 um\ninf,2,3\n4,5,6\n7,8,9\n"
    files["text-utf16.txt"] = "# dx = 1 um\n1 2 3\n4 5 6\n7 8 9\n".encode("utf-16")
    files["text-binary.txt"] = bytes(range(256)) * 4
    files["text-dx-huge.csv"] = b"# dx = 1e308\n1,2,3\n4,5,6\n7,8,9\n"
    files["text-3-by-many.csv"] = b"# dx = 1 um\n" + b"\n".join([b"1,2,3"] * 20000)
    files["tiff-not.tif"] = b"II*\x00" + bytes(100)
    files.update(_hostile_classes(d, h, f64))
    return files


def _hostile_classes(d: Path, h: np.ndarray, f64: bytes) -> dict[str, bytes]:
    """Other codecs, deep structure, long lines, ambiguous containers (one case each)."""
    from test_reader_bounds import _lying_zip, _npy_bytes

    out = {}
    grid_text = "\n".join(",".join(f"{v:.6g}" for v in r) for r in h)
    out["text-long-comment.csv"] = ("# a" + " " * 300_000 + "x\n# dx = 1 um\n" + grid_text).encode()
    out["text-long-word.csv"] = ("a" * 300_000 + "==\n# dx = 1 um\n" + grid_text).encode()
    out["text-long-number.csv"] = ("# k: " + "1" * 300_000 + "!\n# dx = 1 um\n" + grid_text).encode()
    # 30 MB of zeros: over a thousand times what the members declare (the memory of such a
    # refusal is measured in test_reader_bounds.py)
    for method, label in ((zipfile.ZIP_BZIP2, "bzip2"), (zipfile.ZIP_LZMA, "lzma")):
        _lying_zip(d / "z.zip", "bindata/data.bin", bytes(30_000_000), method, len(f64),
                   extra=[("main.xml", x3p_main_xml(32, 24, 1e-6, 1e-6))])
        out[f"x3p-{label}-bomb.x3p"] = (d / "z.zip").read_bytes()
        need = _npy_bytes(h)
        _lying_zip(d / "z.zip", "heights.npy", need[:128] + bytes(30_000_000), method, len(need))
        out[f"npz-{label}-bomb.npz"] = (d / "z.zip").read_bytes()
    (d / "z.zip").unlink()
    out["x3p-many-elements.x3p"] = _zip_with("<a>" + "<b/>" * 3_000_000 + "</a>", f64)
    out["x3p-deep.x3p"] = _zip_with("<a>" * 200_000 + "</a>" * 200_000, f64)
    body = x3p_main_xml(32, 24, 1e-6, 1e-6).split("?>", 1)[-1]
    out["x3p-utf16-dtd.x3p"] = _zip_with(
        ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "x">]>' + body)
        .encode("utf-16"), f64)
    out["x3p-two-data.x3p"] = _zip_with(x3p_main_xml(32, 24, 1e-6, 1e-6), f64,
                                        [("bindata/data.bin", f64[::-1])])
    return out


def _zip_npz(member: str, data: bytes) -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(member, data)
    return buf.getvalue()


def _tiff_bomb(d: Path) -> bytes:
    """A float32 TIFF whose one zlib strip inflates to 100 MB instead of 3 KB."""
    import tifffile

    path = d / "probe.tif"
    tifffile.imwrite(path, _grid().astype(np.float32), compression="zlib", rowsperstrip=24)
    raw = path.read_bytes()
    with tifffile.TiffFile(path) as tf:
        off, count = tf.pages[0].dataoffsets[0], tf.pages[0].databytecounts[0]
    path.unlink()
    bomb = zlib.compress(bytes(100_000_000), 9)
    out = bytearray(raw + bomb)  # the bomb at the end, the one strip pointing at it
    count_at = raw.find(struct.pack("<I", count))
    out[count_at:count_at + 4] = struct.pack("<I", len(bomb))
    off_at = raw.find(struct.pack("<I", off))
    out[off_at:off_at + 4] = struct.pack("<I", len(raw))
    return bytes(out)


def _build_corpus(d: Path) -> list[Path]:
    rng = np.random.default_rng(11)
    files = {}
    for name, data in _base_files(d).items():
        files[name] = data
        files.update(_mutations(name, data, rng))
    files.update(_special_files(d))
    files["tiff-bomb.tif"] = _tiff_bomb(d)
    if DATA_DIR.is_dir():
        for sample in ("milled-face.sur", "bullet-land-sample.x3p"):
            data = (DATA_DIR / sample).read_bytes()
            for k, frac in enumerate((0.3, 0.9)):
                files[f"real{k}-{sample}"] = data[: int(len(data) * frac)]
    paths = []
    for name, data in files.items():
        (d / name).write_bytes(data)
        paths.append(d / name)
    os.symlink(d / "grid.x3p", d / "link-good.x3p")
    os.symlink(d / "nothing.x3p", d / "link-dangling.x3p")
    os.symlink(d / "loop-a.sur", d / "loop-b.sur")
    os.symlink(d / "loop-b.sur", d / "loop-a.sur")
    os.mkfifo(d / "fifo.csv")
    (d / "folder.npz").mkdir()
    paths += [d / n for n in ("link-good.x3p", "link-dangling.x3p", "loop-a.sur", "fifo.csv",
                              "folder.npz")]
    return paths


def _limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))


@pytest.mark.slow
def test_damaged_files_through_the_command_line(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    paths = _build_corpus(inputs)
    cases = []
    for k, p in enumerate(paths):
        cases.append({"args": ["info", str(p)], "out_dir": None})
        if p.name == "x3p-bomb-grid.x3p":
            continue  # once is enough for the slowest case
        out = tmp_path / "out" / str(k)
        out.mkdir(parents=True)
        cases.append({"args": ["scratchmap", str(p), "--out", str(out / "map.png")],
                      "out_dir": str(out)})
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ, PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(RUNNER), str(tmp_path / "cases.json"),
                           str(tmp_path / "results.json")], env=env, capture_output=True,
                          text=True, timeout=600, preexec_fn=_limit_memory)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results) == len(cases) >= 400
    failures = []
    for r in results:
        lines = r["stderr"].strip().splitlines()
        problems = []
        if r["code"] not in (0, 2):
            problems.append(f"exit {r['code']}")
        if len(lines) > 1 or "Traceback" in r["stderr"]:
            problems.append("more than one stderr line")
        if r["code"] == 2 and (r["left"] or r["stdout"]):
            problems.append(f"wrote {r['left'] or 'to stdout'} on exit 2")
        if r["code"] == 2 and not (lines and lines[0].startswith("scratchlight: error: ")):
            problems.append("no one-line error")
        if r["seconds"] > 30:
            problems.append(f"took {r['seconds']:.0f} s")
        if problems:
            failures.append(f"{' '.join(r['args'][:2])}: {', '.join(problems)}: {r['stderr'][-800:]}")
    assert not failures, f"{len(failures)} of {len(results)} runs failed:\n" + "\n".join(failures[:15])
    by_code = {c: sum(r["code"] == c for r in results) for c in (0, 2)}
    assert by_code[0] > 20 and by_code[2] > 200, by_code  # both outcomes are exercised


@pytest.mark.slow
def test_byte_mutations_read_right_or_raise_input_error(tmp_path_factory):
    """Hypothesis: any byte-level mutation of a valid file is read into a valid map or
    refused with an InputError; no other exception escapes the readers."""
    from hypothesis import HealthCheck, given, settings, strategies as st

    from scratchlight.errors import InputError
    from scratchlight.io import read_heightmap

    d = tmp_path_factory.mktemp("mutate")
    bases = _base_files(d)
    names = sorted(bases)

    @settings(max_examples=200, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(name=st.sampled_from(names), cut=st.floats(0, 1),
           flips=st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), max_size=4))
    def check(name, cut, flips):
        data = bytearray(bases[name])
        for where, xor in flips:
            data[min(int(where * len(data)), len(data) - 1)] ^= xor
        data = data[: max(1, int(round(cut * len(data))) if cut < 0.98 else len(data))]
        p = d / f"m-{name}"
        p.write_bytes(bytes(data))
        try:
            hm = read_heightmap(p)
        except InputError as e:
            assert "\n" not in str(e)
            return
        assert hm.heights.ndim == 2 and min(hm.shape) >= 3
        assert np.isfinite(hm.heights[hm.valid]).all() and hm.valid.any()
        assert 0 < hm.dx < np.inf and 0 < hm.dy < np.inf

    old = os.environ.get("SCRATCHLIGHT_MAX_POINTS")
    os.environ["SCRATCHLIGHT_MAX_POINTS"] = "1000000"
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check()
    finally:
        if old is None:
            os.environ.pop("SCRATCHLIGHT_MAX_POINTS", None)
        else:
            os.environ["SCRATCHLIGHT_MAX_POINTS"] = old

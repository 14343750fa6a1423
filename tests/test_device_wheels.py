"""scripts/device_wheels.py: Mitsuba's wheel cut to the variants and plugins this project
loads, with a RECORD that lists exactly what is left (pip installs it with --no-deps)."""
import base64
import hashlib
import importlib.util
import zipfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_wheels.py"


@pytest.fixture(scope="module")
def wheels():
    spec = importlib.util.spec_from_file_location("device_wheels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_only_other_variants_headers_and_unused_plugins_are_dropped(wheels):
    so = ".cpython-312-x86_64-linux-gnu.so"
    for kept in ("cuda_ad_rgb", "llvm_ad_rgb", "scalar_rgb"):
        assert not wheels.dropped(f"mitsuba/{kept}{so}")
    for other in ("cuda_ad_spectral", "llvm_ad_mono_polarized", "scalar_spectral"):
        assert wheels.dropped(f"mitsuba/{other}{so}")
    assert not wheels.dropped(f"mitsuba/mitsuba_ext{so}")  # the common extension stays
    assert wheels.dropped("mitsuba/include/mitsuba/core/fwd.h")
    assert wheels.dropped("mitsuba/plugins/volpath.so")
    for plugin in ("envmap", "roughconductor", "prb", "path", "ply", "ldsampler", "hdrfilm"):
        assert not wheels.dropped(f"mitsuba/plugins/{plugin}.so")
    assert not wheels.dropped("mitsuba/libmitsuba.so")


def test_the_cut_wheel_records_each_file_it_holds(wheels, tmp_path):
    path = tmp_path / "mitsuba-0-cp312-cp312-linux_x86_64.whl"
    files = {"mitsuba/__init__.py": b"x = 1\n",
             "mitsuba/cuda_ad_rgb.cpython-312-x86_64-linux-gnu.so": b"\x7fELF kept",
             "mitsuba/scalar_spectral.cpython-312-x86_64-linux-gnu.so": b"\x7fELF dropped",
             "mitsuba/include/a.h": b"// dropped",
             "mitsuba/plugins/sunsky.so": b"dropped",
             "mitsuba/plugins/envmap.so": b"kept"}
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr("mitsuba-0.dist-info/RECORD", "stale\n")
    wheels.strip_wheel(str(path))
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        record = z.read("mitsuba-0.dist-info/RECORD").decode().splitlines()
        kept = {n for n in files if not wheels.dropped(n)}
        assert names == kept | {"mitsuba-0.dist-info/RECORD"}
        assert len(kept) == 3
        for line in record[:-1]:
            name, digest, size = line.split(",")
            data = z.read(name)
            want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={want}" and int(size) == len(data)
        assert record[-1] == "mitsuba-0.dist-info/RECORD,,"
        assert {line.split(",")[0] for line in record} == names

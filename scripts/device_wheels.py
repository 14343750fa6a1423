"""Fetch the wheels a GPU machine lacks for benchmarks/device_check.sh, small enough to travel.

The device machines (see benchmarks/README.md, "On a GPU") run Python 3.12 with NumPy,
SciPy, numba, matplotlib and Pillow but without Mitsuba, Dr.Jit or OpenEXR, and reach no
registry; what a call takes along is limited to 64 MiB with the working tree. Mitsuba's
wheel alone is 62 MB, most of it variants this project never loads, so this script keeps
the ones it does (scalar_rgb, llvm_ad_rgb, cuda_ad_rgb) and drops the C++ headers and the
plugins no scene here names, and writes the wheels to ``.whl/`` (git-ignored).

    python3 scripts/device_wheels.py            # here, where pip reaches PyPI
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import sys
import zipfile

PINS = ("mitsuba==3.9.1", "drjit==1.5.0", "OpenEXR==3.5.3")
KEPT_VARIANTS = ("scalar_rgb", "llvm_ad_rgb", "cuda_ad_rgb")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64")
VARIANT_MODULE = re.compile(r"^mitsuba/((?:scalar|llvm|cuda)_[a-z_]+)\.cpython-[^/]+\.so$")
# plugins no scene of this project names (volumes, curves, SDFs, sky models, particle tracing)
UNUSED_PLUGINS = ("ellipsoids", "ellipsoidsmesh", "volpath", "volpathmis", "sdfgrid", "sunsky",
                  "timed_sunsky", "bsplinecurve", "linearcurve", "ptracer")


def dropped(name: str) -> bool:
    """Whether a file of Mitsuba's wheel is left out: another variant's bindings, headers,
    unused plugins."""
    m = VARIANT_MODULE.match(name)
    return (bool(m and m.group(1) not in KEPT_VARIANTS) or name.startswith("mitsuba/include/")
            or name in {f"mitsuba/plugins/{p}.so" for p in UNUSED_PLUGINS})


def strip_wheel(path: str) -> None:
    """Rewrite the wheel at ``path`` without the dropped files; RECORD lists what is left."""
    tmp = path + ".tmp"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as dst:
        record = next(n for n in src.namelist() if n.endswith(".dist-info/RECORD"))
        rows = []
        for info in src.infolist():
            if info.filename == record or dropped(info.filename):
                continue
            data = src.read(info)
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            rows.append(f"{info.filename},sha256={digest.decode()},{len(data)}")
        rows.append(f"{record},,")
        dst.writestr(record, "\n".join(rows) + "\n")
    os.replace(tmp, path)


def main() -> int:
    out = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".whl")
    os.makedirs(out, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
           "--python-version", "3.12", "--implementation", "cp", "-d", out]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + list(PINS), check=True)
    total = 0
    for name in sorted(os.listdir(out)):
        path = os.path.join(out, name)
        if name.startswith("mitsuba-"):
            strip_wheel(path)
        total += os.path.getsize(path)
        print(f"{name}: {os.path.getsize(path) / 2**20:.1f} MiB")
    print(f"{total / 2**20:.1f} MiB in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

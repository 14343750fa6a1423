#!/usr/bin/env bash
# Issue 26, part 6: the whole command, the AD loop and the transport engine side by side on
# a GPU, as one call of the device tool (a lent machine reaches no registry and takes 64 MiB
# with the working tree; about 6 minutes on one GPU is planned for).
#
# Here, once per checkout (pip reaches PyPI here, not there):
#     .venv/bin/python scripts/device_wheels.py            # .whl/: Mitsuba, Dr.Jit, OpenEXR for 3.12
#     mkdir -p .whl/data && cp ../shared/data/milled-face.sur .whl/data/
# Then the device tool's `run` with carry [".whl"] and timeout_s 600:
#     bash benchmarks/device_check.sh
# It writes to $OUT: device.txt (the GPU, the Mitsuba variant), warm_up.log, and for each
# engine (auto, ad) whole_cuda_<engine>.md / .json / .log (benchmarks/whole_command.py's
# table on CUDA). Checked on this CPU machine with a Python 3.12 of the device's packages:
#     PYTHON=/tmp/py312/bin/python DEVICE=cpu RESOLUTIONS=64 OUT=/tmp/dc bash benchmarks/device_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device_check}
DEVICE=${DEVICE:-cuda}
RESOLUTIONS=${RESOLUTIONS:-256 512 1024}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH="$PWD/src:/tmp/site"
else
    export PYTHONPATH="$PWD/src"
fi
export PYTHONUNBUFFERED=1 SCRATCHLIGHT_DATA="${SCRATCHLIGHT_DATA:-$PWD/.whl/data}"
export NUMBA_CACHE_DIR=/tmp/numba-cache SCRATCHLIGHT_CACHE=/tmp/scratchlight-cache
{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || true
    nproc
    "$PY" -c "import sys, numpy, numba, mitsuba, drjit; print(sys.version.split()[0], 'numpy',
numpy.__version__, 'numba', numba.__version__, 'mitsuba', mitsuba.__version__, 'drjit',
drjit.__version__)"
    "$PY" -c "from scratchlight.backend import use_device; print('variant', use_device('$DEVICE'))"
} > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
# compile numba's and Dr.Jit's kernels once, outside the timings (make setup does this here)
"$PY" -m scratchlight.cli optimize "$SCRATCHLIGHT_DATA/milled-face.sur" --resolution 64 \
    --iterations 6 --quiet --device "$DEVICE" --out /tmp/device-warm-up > "$OUT/warm_up.log" 2>&1
echo "warm-up exit $?"
# one engine per process of the script, so that a failure of one leaves the other's table
for engine in auto ad; do
    # shellcheck disable=SC2086
    timeout 210 "$PY" benchmarks/whole_command.py --quick --resolutions $RESOLUTIONS \
        --engines "$engine" --device "$DEVICE" --json "$OUT/whole_${DEVICE}_$engine.json" \
        > "$OUT/whole_${DEVICE}_$engine.md" 2> "$OUT/whole_${DEVICE}_$engine.log"
    echo "whole_command --engines $engine exit $?"
    cat "$OUT/whole_${DEVICE}_$engine.md"
done

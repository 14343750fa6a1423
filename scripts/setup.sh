#!/usr/bin/env bash
# One-time set-up for scratchlight: system libLLVM for Dr.Jit's CPU backend, Debian's
# chromium (the studio's browser test) and blender (the lamp rigs' export test), a virtual
# environment in .venv with pinned dependencies, and the package itself (editable).
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv

have_llvm16() {
    # Dr.Jit's LLVM backend needs libLLVM >= 16 (LLVM 15 aborts on `fminimum`).
    local f v
    for f in /usr/lib/x86_64-linux-gnu/libLLVM-*.so* /usr/lib/aarch64-linux-gnu/libLLVM-*.so* /usr/lib/llvm-*/lib/libLLVM*.so*; do
        [ -e "$f" ] || continue
        v=$(basename "$f" | sed -E 's/^libLLVM-?([0-9]+).*/\1/')
        case "$v" in ''|*[!0-9]*) continue ;; esac
        [ "$v" -ge 16 ] && return 0
    done
    return 1
}

if ! have_llvm16; then
    echo "[setup] installing Debian's libllvm19 (Dr.Jit's CPU backend needs libLLVM >= 16)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libllvm19 >/dev/null
fi

# --- studio (issue 13): Debian's chromium for the browser test of `scratchlight studio`.
# Playwright drives this system browser (its own browser download is not used).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
    echo "[setup] installing Debian's chromium (the studio's end-to-end test runs in it)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# --- end studio

# --- lamp rigs: Debian's Blender, in which the tests run the exported Blender scripts and
# compare their renders with Mitsuba's (scratchlight itself never needs it).
if ! command -v blender >/dev/null 2>&1; then
    echo "[setup] installing Debian's blender (the lamp rigs' Blender export is tested in it)"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq blender >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating $VENV"
    "$PY" -m venv "$VENV"
fi

stamp="$VENV/.installed-$(cat requirements.lock pyproject.toml | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
    echo "[setup] installing pinned dependencies"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q -r requirements.lock
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    rm -f "$VENV"/.installed-*
    touch "$stamp"
fi

# Compiled kernels (numba) are compiled once per machine and then loaded from the cache
# (<cache root>/numba): compile them now, by a tiny optimization, so that the first
# command, the studio's first surface and the tests do not wait for it. Once per install.
numba_stamp="$VENV/.kernels-$(cat src/scratchlight/*kernels.py src/scratchlight/engines/transport/*.py | sha1sum | cut -c1-12)"
if [ ! -f "$numba_stamp" ]; then
    echo "[setup] compiling the kernels (once)"
    tmp=$(mktemp -d)
    numba_dir=$("$VENV/bin/python" -c "from scratchlight.user_cache import cache_root; import os; print(os.path.join(cache_root(), 'numba'))")
    ( cd "$tmp" && export SCRATCHLIGHT_CACHE="$tmp/cache" NUMBA_CACHE_DIR="$numba_dir" &&
      "$OLDPWD/$VENV/bin/scratchlight" synth --size 24 --scratches 1 --out part.npz >/dev/null &&
      "$OLDPWD/$VENV/bin/scratchlight" optimize part.npz --resolution 24 --envmap-size 4x8 \
          --iterations 3 --spp 2 --final-spp 2 --engine transport --out run --quiet >/dev/null ) \
        || echo "[setup] (the kernels will compile on first use instead)"
    rm -rf "$tmp"
    rm -f "$VENV"/.kernels-*
    touch "$numba_stamp"
fi

# Bytecode of the package and of the tests (pytest's assert-rewritten modules), written once
# per change of the sources: where PYTHONDONTWRITEBYTECODE is set (as on some CI machines)
# Python and pytest never cache it, and every command's process and every test worker
# compiled the same modules again (a test worker's collection: 13 s, 4.5 s when cached).
bytecode_stamp="$VENV/.bytecode-$(find src tests benchmarks -name '*.py' | sort | xargs cat | sha1sum | cut -c1-12)"
if [ ! -f "$bytecode_stamp" ]; then
    echo "[setup] compiling the bytecode (once per change)"
    PYTHONDONTWRITEBYTECODE= "$VENV/bin/python" -m compileall -q src benchmarks >/dev/null
    PYTHONDONTWRITEBYTECODE= "$VENV/bin/python" -m pytest --collect-only -q -p no:cacheprovider \
        >/dev/null 2>&1 || echo "[setup] (the tests will compile their bytecode when run)"
    rm -f "$VENV"/.bytecode-*
    touch "$bytecode_stamp"
fi

"""Choose and load the Mitsuba variant before anything renders.

Dr.Jit's CPU backend loads a system libLLVM at run time. It needs LLVM >= 16 (Debian's
LLVM 15 aborts with "Cannot select ... fminimum"), so unless ``DRJIT_LIBLLVM_PATH`` is set
we point it at the newest libLLVM found on the system before ``mitsuba`` is imported.
The variant is ``cuda_ad_rgb`` when a CUDA GPU is usable and ``llvm_ad_rgb`` otherwise.

``SCRATCHLIGHT_THREADS`` (a whole number >= 1) caps the threads of Dr.Jit's CPU pool and of
the compiled kernels; unset, both use every core. A batch worker sets it to the CPUs its row
reserves, so rows running side by side do not each spread over every core.
"""
from __future__ import annotations

import glob
import os
import re

__all__ = ["find_libllvm", "use_device", "current_variant", "cpu_threads", "thread_limit", "DEVICES",
           "THREADS_ENV"]

DEVICES = ("auto", "cpu", "cuda")

_LLVM_GLOBS = (
    "/usr/lib/x86_64-linux-gnu/libLLVM*.so*",
    "/usr/lib/aarch64-linux-gnu/libLLVM*.so*",
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
    "/usr/lib64/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/opt/homebrew/opt/llvm/lib/libLLVM.dylib",
)


def find_libllvm(min_major: int = 16) -> str | None:
    """Path of the newest system libLLVM with major version >= ``min_major``, or None."""
    best: tuple[int, str] | None = None
    for pattern in _LLVM_GLOBS:
        for path in glob.glob(pattern):
            m = re.search(r"LLVM-?(\d+)", os.path.basename(path)) or re.search(r"llvm-(\d+)", path)
            if not m:
                continue
            major = int(m.group(1))
            if major >= min_major and (best is None or major > best[0]):
                best = (major, path)
    return best[1] if best else None


def _prepare_environment() -> None:
    if "DRJIT_LIBLLVM_PATH" not in os.environ:
        path = find_libllvm()
        if path:
            os.environ["DRJIT_LIBLLVM_PATH"] = path


_prepare_environment()

THREADS_ENV = "SCRATCHLIGHT_THREADS"


def thread_limit() -> int | None:
    """The thread cap ``$SCRATCHLIGHT_THREADS`` sets, or None (every core) when unset.
    Raises InputError naming the variable when it is not a whole number >= 1."""
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return None
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        from .errors import InputError

        raise InputError(THREADS_ENV, f"must be a whole number of threads >= 1, got {text!r}")
    return n

_variant: str | None = None


def _cuda_usable() -> bool:
    import drjit as dr

    try:
        return bool(dr.has_backend(dr.JitBackend.CUDA))
    except Exception:  # no driver, no device
        return False


def use_device(device: str = "auto") -> str:
    """Select the Mitsuba variant for ``device`` ('auto', 'cpu' or 'cuda'); return its name.

    Raises RuntimeError when 'cuda' is requested but no CUDA GPU is usable, or when no
    suitable libLLVM exists for the CPU backend.
    """
    global _variant
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    import mitsuba as mi

    if device == "cuda" or (device == "auto" and _cuda_usable()):
        if not _cuda_usable():
            raise RuntimeError("--device cuda: no usable CUDA GPU was found")
        variant = "cuda_ad_rgb"
    else:
        import drjit as dr

        if not dr.has_backend(dr.JitBackend.LLVM):
            raise RuntimeError(
                "Dr.Jit's CPU backend found no usable libLLVM >= 16; install Debian's "
                "libllvm19 (apt-get install libllvm19) or set DRJIT_LIBLLVM_PATH"
            )
        variant = "llvm_ad_rgb"
    if mi.variant() != variant:
        mi.set_variant(variant)
    limit = thread_limit()
    if limit is not None and variant.startswith("llvm"):
        import drjit as dr

        dr.set_thread_count(limit)
    _variant = variant
    return variant


def cpu_threads() -> int:
    """Threads of Dr.Jit's CPU pool (every core unless ``SCRATCHLIGHT_THREADS`` caps it)."""
    import drjit as dr

    return int(dr.thread_count())


def current_variant() -> str:
    """The active variant, selecting the automatic one on first use."""
    return _variant if _variant is not None else use_device("auto")

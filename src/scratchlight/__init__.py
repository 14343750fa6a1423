"""scratchlight: lighting that makes cutting marks and scratches on machined metal visible.

The pipeline: ``io`` (read height maps and envmaps) -> ``surface`` (prepare) -> ``scene``
(Mitsuba scene) -> ``engines`` (render, backprop, relight) -> ``objectives`` ->
``optimize`` / ``fit`` -> ``report``; :class:`Session` drives the stages step by step for
every front end (the command line, the paper study in ``study``). Importing the package
points Dr.Jit at a suitable libLLVM; the Mitsuba variant is chosen on first use
(``use_device``).

The public names are loaded on first use (PEP 562 ``__getattr__``): ``from scratchlight
import Session`` imports ``scratchlight.session`` then, so that a command that needs none
of them (``scratchlight --help``, ``scratchlight info``) starts without SciPy, Mitsuba or
numba. ``_LAZY_EXPORTS`` names the module of each; tests/test_layout.py reads it as the
root's imports.
"""
from __future__ import annotations

import importlib

from . import backend  # noqa: F401  (sets DRJIT_LIBLLVM_PATH before mitsuba is imported)

_LAZY_EXPORTS = {
    "__version__": ".version",
    "use_device": ".backend", "current_variant": ".backend",
    "config_from_dict": ".config", "config_to_dict": ".config", "read_config": ".config",
    "make_engine": ".engines",
    "InputError": ".errors",
    "FitConfig": ".fit", "FitRunConfig": ".fit", "run_fit": ".fit",
    "HeightMap": ".heightmap",
    "read_envmap": ".io", "read_heightmap": ".io", "write_exr": ".io", "write_png": ".io",
    "scratch_objective": ".objectives",
    "LightConfig": ".optimize", "OptimizeConfig": ".optimize", "OptimizerConfig": ".optimize",
    "initial_envmap": ".optimize", "optimize_light": ".optimize",
    "EvaluateConfig": ".renders", "LightSource": ".renders", "RelightConfig": ".renders",
    "RenderConfig": ".renders",
    "CameraSpec": ".scene", "Scene": ".scene", "SceneSpec": ".scene", "build_scene": ".scene",
    "OptimizationRun": ".session", "OptimizationStep": ".session", "Session": ".session",
    "run_optimization": ".session",
    "SurfaceConfig": ".surface", "fill_missing": ".surface", "level_plane": ".surface",
    "prepare": ".surface", "resample": ".surface", "synthesize": ".surface",
}
"""Public name -> the module (relative to this package) that defines it."""

__all__ = [
    "__version__", "use_device", "current_variant", "InputError", "HeightMap",
    # the session and its configs
    "Session", "OptimizationRun", "OptimizationStep", "run_optimization", "SurfaceConfig",
    "SceneSpec", "CameraSpec", "LightConfig", "OptimizerConfig", "OptimizeConfig",
    "LightSource", "RenderConfig", "RelightConfig", "EvaluateConfig", "config_to_dict",
    "config_from_dict", "read_config", "FitConfig", "FitRunConfig", "run_fit",
    # the stages
    "read_heightmap", "read_envmap", "write_exr", "write_png", "fill_missing", "level_plane",
    "prepare", "resample", "synthesize", "Scene", "build_scene", "make_engine",
    "scratch_objective", "initial_envmap", "optimize_light",
]


def __getattr__(name: str):
    """Import the module that defines the public ``name`` on its first use and keep it; a
    sub-package or module (``scratchlight.io``) is imported the same way."""
    module = _LAZY_EXPORTS.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    elif not name.startswith("_") and _is_submodule(name):
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def _is_submodule(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__name__}.{name}") is not None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

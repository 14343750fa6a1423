"""scratchlight: lighting that makes cutting marks and scratches on machined metal visible.

The pipeline: ``io`` (read height maps and envmaps) -> ``surface`` (prepare) -> ``scene``
(Mitsuba scene) -> ``engines`` (render, backprop, relight) -> ``objectives`` ->
``optimize`` / ``fit`` -> ``report``; :class:`Session` drives the stages step by step for
every front end (the command line, the paper study in ``study``). Importing the package
points Dr.Jit at a suitable libLLVM; the Mitsuba variant is chosen on first use
(``use_device``).
"""
from . import backend  # noqa: F401  (sets DRJIT_LIBLLVM_PATH before mitsuba is imported)
from .backend import current_variant, use_device
from .config import config_from_dict, config_to_dict, read_config
from .engines import make_engine
from .errors import InputError
from .fit import FitConfig, FitRunConfig, run_fit
from .heightmap import HeightMap
from .io import read_envmap, read_heightmap, write_exr, write_png
from .objectives import scratch_objective
from .optimize import (LightConfig, OptimizeConfig, OptimizerConfig, initial_envmap,
                       optimize_light)
from .renders import EvaluateConfig, LightSource, RelightConfig, RenderConfig
from .scene import CameraSpec, Scene, SceneSpec, build_scene
from .session import OptimizationRun, OptimizationStep, Session, run_optimization
from .surface import SurfaceConfig, fill_missing, level_plane, prepare, resample, synthesize
from .version import __version__

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

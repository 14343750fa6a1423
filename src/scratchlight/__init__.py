"""scratchlight: lighting that makes cutting marks and scratches on machined metal visible.

The pipeline: ``io`` (read height maps and envmaps) -> ``surface`` (prepare) -> ``scene``
(Mitsuba scene) -> ``engines`` (render, backprop) -> ``objectives`` -> ``optimize`` ->
``report``. Importing the package points Dr.Jit at a suitable libLLVM; the Mitsuba variant
is chosen on first use (``use_device``).
"""
from . import _backend  # noqa: F401  (sets DRJIT_LIBLLVM_PATH before mitsuba is imported)
from ._backend import current_variant, use_device
from .errors import InputError
from .heightmap import HeightMap
from .io import read_envmap, read_heightmap, write_exr, write_png
from .objectives import scratch_objective
from .scene import CameraSpec, Scene, SceneSpec, build_scene
from .surface import fill_missing, level_plane, prepare, resample

__version__ = "0.1.0"

__all__ = [
    "__version__", "use_device", "current_variant", "InputError", "HeightMap",
    "read_heightmap", "read_envmap", "write_exr", "write_png", "scratch_objective",
    "CameraSpec", "Scene", "SceneSpec", "build_scene", "fill_missing", "level_plane",
    "prepare", "resample",
]

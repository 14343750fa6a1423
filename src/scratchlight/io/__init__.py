"""Stage 1 — reading and writing files: height maps, environment maps, images.

Height-map readers register their file extensions in ``READERS`` when imported here:
.npy/.npz (``npy``), .x3p (``x3p``), .sur (``sur``), .tif/.tiff (``tiff``) and
.csv/.txt/.asc (``text``); with the optional SurfaceTopography package, many
instrument formats more (``fields``).
"""
from ..heightmap import HeightMap
from .heightmap import OPTIONAL_READERS, READERS, check_heightmap, read_heightmap
from . import npy as _npy  # noqa: F401  (registers .npy/.npz)
from . import sur as _sur  # noqa: F401  (registers .sur)
from . import text as _text  # noqa: F401  (registers .csv/.txt/.asc)
from . import tiff as _tiff  # noqa: F401  (registers .tif/.tiff)
from . import x3p as _x3p  # noqa: F401  (registers .x3p)
from . import fields as _fields
from .npy import write_npz
from .text import write_text
from .atomic import atomic_path, write_json
from .images import ENVMAP_EXTENSIONS, read_envmap, read_png_mask, write_exr, write_png, tonemap

if _fields.fields_available():  # more instrument formats (.plu, .datx, .vk4, .gwy, ...)
    _fields.register_fields_readers(READERS)
OPTIONAL_READERS.update(dict.fromkeys(_fields.FIELDS_EXTENSIONS, "SurfaceTopography"))

__all__ = [
    "HeightMap", "READERS", "check_heightmap", "read_heightmap", "write_npz", "write_text",
    "read_envmap", "read_png_mask", "write_exr", "write_png", "tonemap", "ENVMAP_EXTENSIONS",
    "atomic_path", "write_json",
]

"""Stage 1 — reading and writing files: height maps, environment maps, images.

Height-map readers are registered by file extension in ``READERS``: .npy/.npz (``npy``),
.x3p (``x3p``), .sur (``sur``), .tif/.tiff (``tiff``) and .csv/.txt/.asc (``text``), each
module imported when a file of its format is first read; with the optional
SurfaceTopography package, many instrument formats more (``fields``). The writers and the
image functions are imported on first use too (PEP 562 ``__getattr__``).
"""
import importlib

from ..heightmap import HeightMap
from ..lazy import lazy_getattr
from .heightmap import OPTIONAL_READERS, READERS, check_heightmap, read_heightmap
from . import fields as _fields
from .atomic import atomic_path, write_json

# The format modules are imported when a file of theirs is first read (their imports, zip,
# XML, TIFF, logging, cost every command's start): until then each extension's reader is a
# stand-in that imports its module, whose own registration replaces the stand-in.
_NATIVE_READERS = {".npy": ("npy", "read_npy"), ".npz": ("npy", "read_npz"),
                   ".sur": ("sur", "read_sur"), ".x3p": ("x3p", "read_x3p"),
                   ".csv": ("text", "read_text"), ".txt": ("text", "read_text"),
                   ".asc": ("text", "read_text"), ".tif": ("tiff", "read_tiff"),
                   ".tiff": ("tiff", "read_tiff")}


def _reader_on_first_use(module: str, name: str):
    def read(path):
        return getattr(importlib.import_module(f".{module}", __name__), name)(path)

    read.__name__ = read.__qualname__ = name
    read.__doc__ = f"``io.{module}.{name}``, its module imported on the first call."
    return read


for _ext, (_module, _name) in _NATIVE_READERS.items():
    READERS.setdefault(_ext, _reader_on_first_use(_module, _name))
if _fields.fields_available():  # more instrument formats (.plu, .datx, .vk4, .gwy, ...)
    _fields.register_fields_readers(READERS)
OPTIONAL_READERS.update(dict.fromkeys(_fields.FIELDS_EXTENSIONS, "SurfaceTopography"))

_LAZY_EXPORTS = {
    "write_npz": ".npy", "write_text": ".text", "ENVMAP_EXTENSIONS": ".images",
    "read_envmap": ".images", "read_png_mask": ".images", "write_exr": ".images",
    "write_png": ".images", "tonemap": ".images",
}
"""Public name -> the module that defines it, imported on first use (``__getattr__``)."""

__all__ = [
    "HeightMap", "READERS", "check_heightmap", "read_heightmap", "write_npz", "write_text",
    "read_envmap", "read_png_mask", "write_exr", "write_png", "tonemap", "ENVMAP_EXTENSIONS",
    "atomic_path", "write_json",
]


__getattr__ = lazy_getattr(__name__, _LAZY_EXPORTS)

"""How ``scratchlight studio`` serves: ``StudioConfig``, whose declared fields are the
command's flags (``cli/flags.py``). Imports nothing of the web server, so the command line
can offer the flags without the optional packages."""
from __future__ import annotations

import dataclasses
import os

from ..errors import InputError
from ..options import check_declared, option

__all__ = ["StudioConfig"]


@dataclasses.dataclass
class StudioConfig:
    """How ``scratchlight studio`` serves (the command's flags)."""

    data_dir: str | None = option(None, "folder of height maps the page may open by name",
                                  flag="--data", metavar="DIR", path=True)
    """Folder whose height maps the page may open, by name."""
    heightmap: str | None = option(None, "a height map to offer (by its file name)",
                                   flag="heightmap", path=True)
    """One more height map offered by its file name (the command's argument)."""
    out_dir: str = option("studio-results", "folder for exported results and uploads",
                          flag="--out", metavar="OUT", path=True)
    """Where exported results folders and uploads are kept (run.json names files here)."""
    host: str = option("127.0.0.1", "address to bind (any other requires the printed token)")
    """Address the server binds."""
    port: int = option(8765, "port (0 picks a free one)", lo=0, hi=65535)
    """Port the server listens on."""
    token: str | None = None
    """The token to require; None: a random one when ``host`` is not a loopback address."""
    require_token: bool | None = None
    """None: exactly when ``host`` is not a loopback address."""
    max_sessions: int = option(8, "sessions kept in memory", lo=1, hi=10_000)
    """Pages' sessions kept in memory (least recently used evicted)."""
    max_matrices: int = option(4, "sessions whose transport matrices stay in memory", lo=1,
                               hi=10_000)
    """Sessions whose transport matrices stay in memory."""
    max_upload_bytes: int = option(64 * 2 ** 20, "largest upload in MiB", flag="--max-upload-mb",
                                   metavar="MAX_UPLOAD_MB", flag_scale=2 ** 20, parse=float,
                                   lo=0, lo_open=True)
    """Largest upload, bytes."""
    upload_quota_bytes: int = option(256 * 2 ** 20, "uploads one session may keep, in MiB",
                                     flag="--upload-quota-mb", metavar="UPLOAD_QUOTA_MB",
                                     flag_scale=2 ** 20, parse=float, lo=0, lo_open=True)
    """Bytes of uploads one session may keep under ``out_dir/uploads`` (failed ones are
    deleted and do not count)."""
    max_points: int = option(16_000_000, "largest height map an upload or surface may hold, "
                             "in points", lo=9)
    """Largest grid, points, the page may read (refused from the file's header, before
    anything of that size is allocated)."""
    max_light_pixels: int = option(64 * 2 ** 20, "largest light image the page may load, in "
                                   "pixels", lo=4)
    """Largest light image, pixels (checked from its header before decoding)."""
    resolution: int = option(256, "image size of the page", lo=16, hi=1024)
    """Image size of the page, pixels (the page's camera allows 16 .. 1024)."""
    relight_spp: int = option(16, "paths per pixel of the matrices the page relights with",
                              lo=1, hi=4096, cli=False)
    """Paths per pixel of the transport matrices the page relights with."""
    max_size: int = option(1024, "resample height maps to at most this many points a side",
                           lo=0)
    """Resample height maps to at most this many points a side (0 keeps every point)."""
    device: str = option("auto", "cuda when a GPU is usable (auto), else cpu",
                         choices=("auto", "cpu", "cuda"))
    """auto, cpu or cuda."""
    envmap_size: tuple[int, int] = option((25, 50), "environment map rows x columns", sep="x",
                                          cli=False)
    """The page's environment map (rows, columns)."""

    def validate(self) -> None:
        """Raise InputError for a missing folder or file, or a value outside its bounds."""
        if self.data_dir is not None and not os.path.isdir(self.data_dir):
            raise InputError("--data", f"{self.data_dir}: no such folder")
        if self.heightmap is not None and not os.path.isfile(self.heightmap):
            raise InputError(self.heightmap, "no such file")
        check_declared(self)

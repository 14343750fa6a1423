"""The page's start of the chain: a G-code program milled into the surface it opens.

``POST /api/s/{sid}/mill?name=PROGRAM.nc&tool=SPEC&stock=X0:X1,Y0:Y1,Z0&spacing=LEN
[&region=X0:X1,Y0:Y1][&envelope=1]`` with the program's bytes as the body: the program is
kept like any upload (within the page's quota), ``scratchlight mill`` (``mill.run_mill``)
simulates it off the Mitsuba thread with the studio's point limit (``--max-points``), and
the milled height map (``PROGRAM.npz`` beside it, with its ``.run.json``) is opened as an
uploaded surface would be: the answer is the load job. A program the simulator refuses
(an unsupported code, an inconsistent arc, a grid over the limit) is a one-line 400 naming
the line and the word, and nothing stays behind.
"""
from __future__ import annotations

import os

import anyio
from starlette.routing import Route

from ..errors import InputError
from .handlers import api, load_job
from .security import read_body

__all__ = ["mill_routes", "PROGRAM_EXTENSIONS", "mill_upload"]

PROGRAM_EXTENSIONS = (".nc", ".ngc", ".tap", ".gcode", ".cnc", ".txt")
"""The file types the page takes as G-code programs."""

_FIELDS = ("tool", "stock", "spacing", "region")


def mill_upload(program_path: str, options: dict, display_name: str) -> str:
    """Mill ``program_path`` with the page's ``options`` (``MillConfig`` fields: tool, stock,
    spacing, region, envelope); returns the written ``.npz``. InputError names the program
    by ``display_name`` (never the server's path)."""
    from ..mill import MillConfig
    from ..mill.run import run_mill

    cfg = MillConfig(program=program_path, tool=options.get("tool", ""),
                     stock=options.get("stock", ""), spacing=options.get("spacing") or "5um",
                     region=options.get("region", ""),
                     envelope=options.get("envelope") in ("1", "true", "yes"))
    out = os.path.splitext(program_path)[0] + ".npz"
    try:
        run_mill(cfg, out, progress=False)
    except InputError as e:
        where = display_name if e.path in (program_path, os.path.basename(program_path)) else e.path
        raise InputError(where, e.problem.replace(program_path, display_name)) from None
    return out


@api
async def mill_program(request, studio, ws):
    name = request.query_params.get("name", "")
    options = {k: request.query_params.get(k, "") for k in (*_FIELDS, "envelope")}
    for field in ("tool", "stock"):
        if not options[field]:
            raise InputError(field, f"give the {field} (see docs/milling.md)")
    data = await read_body(request, studio.config.max_upload_bytes)
    if not data:
        raise InputError(name or "upload", "the program is empty")
    path = studio.store_upload(data, name, PROGRAM_EXTENSIONS, ws)
    try:  # numba's sweep, not Mitsuba: off the Mitsuba thread, within the point limit
        npz = await anyio.to_thread.run_sync(studio.bounded(mill_upload), str(path), options, name)
    except InputError:
        studio.discard_upload(ws, path)
        raise
    return load_job(studio, ws, npz, os.path.splitext(name)[0] + ".npz")


def mill_routes(prefix: str) -> list[Route]:
    """The route under the session's ``prefix`` (``/api/s/{sid}``)."""
    return [Route(f"{prefix}/mill", mill_program, methods=["POST"])]

"""The page and the JSON API. Every handler is a thin call of the session's steps.

Errors come back as ``{"error": "one line"}``: 400 for bad input (the readers' and the
configs' own messages, files named by name), 404 for an unknown or evicted session, 409
while the session is busy or not ready, 413 for an oversized upload, 503 for a new
session while every session is in use.
"""
from __future__ import annotations

import time
from pathlib import Path

import anyio
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import InputError
from .imaging import decode_mask_png, encode_png, envmap_from_json, envmap_to_json, mask_png, png_data_url
from .lights import PRESETS, preset_light
from .runs import evaluate_option_form, parse_evaluate_options, run_option_form
from .handlers import api, json_body as _json, load_job
from .inspection import pod_routes
from .milling import mill_routes
from .security import read_body
from .workspace import NotReady, ViewSettings

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["api_routes", "page_routes"]


# ---------------------------------------------------------------------- page
async def index(request):
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-store"})


async def favicon(request):
    return Response(status_code=204)


def page_routes():
    return [Route("/", index), Route("/favicon.ico", favicon)]


# ---------------------------------------------------------------------- server-wide
@api
async def config(request, studio, ws):
    return JSONResponse({"surfaces": studio.surfaces(), "presets": list(PRESETS),
                         "envmap_shape": list(studio.settings.envmap_shape),
                         "resolution": studio.config.resolution,
                         "max_upload_bytes": studio.config.max_upload_bytes,
                         "max_sessions": studio.config.max_sessions,
                         "run_options": run_option_form(),
                         "evaluate_options": evaluate_option_form()})


@api
async def new_session(request, studio, ws):
    from .registry import RegistryFull

    try:
        ws = studio.registry.create()
    except RegistryFull as e:  # never evicts a session in use
        return JSONResponse({"error": str(e)}, status_code=503, headers={"retry-after": "30"})
    return JSONResponse(ws.status(), status_code=201)


@api
async def session_status(request, studio, ws):
    return JSONResponse(ws.status())


@api
async def close_session(request, studio, ws):
    studio.registry.remove(ws.id)
    return JSONResponse({"closed": ws.id})


# ---------------------------------------------------------------------- surface and camera
@api
async def open_surface(request, studio, ws):
    data = await _json(request)
    name = data.get("name")
    path = studio.surface_path(name)
    return load_job(studio, ws, path, name, ViewSettings.from_json(data.get("view") or {}, ws.view))


@api
async def upload_surface(request, studio, ws):
    from ..io import READERS

    name = request.query_params.get("name", "")
    data = await read_body(request, studio.config.max_upload_bytes)
    if not data:
        raise InputError(name or "upload", "the file is empty")
    path = studio.store_upload(data, name, tuple(READERS), ws)
    try:  # the readers' own checks, off the Mitsuba thread, within the studio's point limit
        await anyio.to_thread.run_sync(studio.bounded(_read_quietly), str(path))
    except InputError as e:
        studio.discard_upload(ws, path)
        raise InputError(name, e.problem) from None
    return load_job(studio, ws, path, name, ws.view)


@api
async def set_camera(request, studio, ws):
    view = ViewSettings.from_json(await _json(request), ws.view)
    if ws.surface_path is None:
        raise NotReady("load a surface first")
    return load_job(studio, ws, ws.surface_path, ws.surface_name, view)


@api
async def job_status(request, studio, ws):
    return JSONResponse({"job": ws.job.to_json() if ws.job else None})


def _read_quietly(path: str):
    """Read a height map for its checks; its warnings reach the page with the surface's
    facts (``describe_heightmap``), not the server's stderr."""
    import warnings

    from ..io import read_heightmap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_heightmap(path)


# ---------------------------------------------------------------------- light
async def _ensure_engine(studio, ws) -> None:
    if ws.engine is None and ws.session is not None and (ws.job is None or ws.job.finished):
        await studio.worker.run(ws.ensure_engine)  # matrices were released: from the cache
        studio.registry.enforce_matrices()


async def _relight_png(studio, ws, E=None) -> tuple[bytes, float]:
    await _ensure_engine(studio, ws)

    def work():
        t0 = time.perf_counter()
        png = encode_png(ws.relight(E))
        return png, (time.perf_counter() - t0) * 1e3

    return await anyio.to_thread.run_sync(work)


async def _render_answer(studio, ws) -> Response:
    """The current light's render as PNG; ``x-render-note`` says why when it is black."""
    from .notes import render_with_note

    await _ensure_engine(studio, ws)
    png, ms, note = await anyio.to_thread.run_sync(render_with_note, ws)
    headers = {"x-relight-ms": f"{ms:.1f}", "cache-control": "no-store"}
    return Response(png, media_type="image/png",
                    headers={**headers, "x-render-note": note} if note else headers)


@api
async def relight(request, studio, ws):
    E = envmap_from_json(await _json(request), studio.settings.envmap_shape)
    ws.set_light(E)
    return await _render_answer(studio, ws)


@api
async def render_png(request, studio, ws):
    return await _render_answer(studio, ws)


@api
async def get_light(request, studio, ws):
    return JSONResponse(envmap_to_json(ws.light))


@api
async def light_preset(request, studio, ws):
    data = await _json(request)
    name, channels = data.get("name"), 3 if data.get("color") == "rgb" else 1
    if name == "specular":
        E = await studio.worker.run(preset_light, name, studio.settings.envmap_shape, channels, ws._require())
    else:
        E = preset_light(name, studio.settings.envmap_shape, channels)
    ws.set_light(E)
    return JSONResponse(envmap_to_json(E))


@api
async def upload_light(request, studio, ws):
    from ..io import ENVMAP_EXTENSIONS
    from .uploads import read_light_image

    name = request.query_params.get("name", "")
    channels = 3 if request.query_params.get("color") == "rgb" else 1
    data = await read_body(request, studio.config.max_upload_bytes)
    if not data:
        raise InputError(name or "upload", "the file is empty")
    path = studio.store_upload(data, name, ENVMAP_EXTENSIONS, ws)
    args = (str(path), studio.settings.envmap_shape, channels, studio.config.max_light_pixels)
    try:  # as `optimize --init FILE` reads it: resampled, gray by CIE L*; size from the header
        if path.suffix.lower() in (".exr", ".hdr"):  # Mitsuba reads these
            E = await studio.worker.run(read_light_image, *args)
        else:  # Pillow: never holds up the Mitsuba thread
            E = await anyio.to_thread.run_sync(read_light_image, *args)
    except InputError as e:
        studio.discard_upload(ws, path)
        raise InputError(name, e.problem) from None
    ws.set_light(E)
    ws.run_inputs["light_file"] = str(path)
    return JSONResponse(envmap_to_json(E))


# ---------------------------------------------------------------------- region of interest
@api
async def paint_mask(request, studio, ws):
    session = ws._require()
    data = await read_body(request, 8 << 20)
    M = decode_mask_png(data, tuple(session.scene.image_shape))
    return JSONResponse(await anyio.to_thread.run_sync(ws.paint_mask, M))


@api
async def mask_mode(request, studio, ws):
    data = await _json(request)
    return JSONResponse(await anyio.to_thread.run_sync(ws.set_mask_mode, data.get("mode")))


@api
async def mask_image(request, studio, ws):
    return Response(mask_png(ws._require().mask), media_type="image/png",
                    headers={"cache-control": "no-store"})


@api
async def roi_download(request, studio, ws):
    png = mask_png(ws.roi_on_grid())
    name = f"{(ws.surface_name or 'surface').rsplit('.', 1)[0]}-roi.png"
    return Response(png, media_type="image/png",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@api
async def roi_upload(request, studio, ws):
    ws._require()
    data = await read_body(request, studio.config.max_upload_bytes)
    name = request.query_params.get("name") or "roi.png"
    path = studio.store_upload(data, name, (".png",), ws)
    try:  # the size from the header first: a small file may declare a huge image
        from .uploads import light_image_size

        w, h = light_image_size(str(path))
        if w * h > studio.config.max_points:
            raise InputError(name, f"the region image is {w} x {h} pixels, more than the "
                                   f"{studio.config.max_points:,} a height map may have")
        summary = await anyio.to_thread.run_sync(ws.load_roi, str(path))
    except InputError as e:
        studio.discard_upload(ws, path)
        raise InputError(name, e.problem) from None
    return JSONResponse(summary)


# ---------------------------------------------------------------------- optimize, compare, export
@api
async def stop(request, studio, ws):
    ws.stop_event.set()
    return JSONResponse({"stopping": ws.optimizing})


@api
async def compare(request, studio, ws):
    run = ws._require().run
    if run is None:
        raise InputError("compare", "optimize first")
    before, _ = await _relight_png(studio, ws, run.initial_envmap)
    after, _ = await _relight_png(studio, ws, run.envmap)
    return JSONResponse({"before": png_data_url(before), "after": png_data_url(after),
                         "initial_envmap": envmap_to_json(run.initial_envmap),
                         "envmap": envmap_to_json(run.envmap)})


@api
async def evaluate(request, studio, ws):
    from .runs import evaluate_lights

    opts = parse_evaluate_options(await _json(request))
    spp, seeds = opts["spp"], opts["seeds"]
    ws._require()
    job = studio.start_job(ws, "evaluate", lambda job: evaluate_lights(ws, spp, seeds, job))
    return JSONResponse({"job": job.to_json()}, status_code=202)


@api
async def export(request, studio, ws):
    from .runs import export_results

    ws._require()

    def work(job):
        ws.run_inputs["export"] = str(export_results(ws, studio.out_dir, job))
        return {"download": f"/api/s/{ws.id}/export.zip"}

    job = studio.start_job(ws, "export", work)
    return JSONResponse({"job": job.to_json()}, status_code=202)


@api
async def export_zip(request, studio, ws):
    path = ws.run_inputs.get("export")
    if not path:
        raise NotReady("export first")
    name = path.rsplit("/", 1)[-1]
    return FileResponse(path, media_type="application/zip", filename=name)


def api_routes():
    s = "/api/s/{sid}"
    return [
        Route("/api/config", config),
        Route("/api/sessions", new_session, methods=["POST"]),
        Route(s, session_status), Route(s, close_session, methods=["DELETE"]),
        Route(f"{s}/surface", open_surface, methods=["POST"]),
        Route(f"{s}/upload", upload_surface, methods=["POST"]),
        Route(f"{s}/camera", set_camera, methods=["POST"]),
        Route(f"{s}/job", job_status),
        Route(f"{s}/relight", relight, methods=["POST"]),
        Route(f"{s}/render.png", render_png),
        Route(f"{s}/light", get_light),
        Route(f"{s}/light/preset", light_preset, methods=["POST"]),
        Route(f"{s}/light/upload", upload_light, methods=["POST"]),
        Route(f"{s}/mask", paint_mask, methods=["POST"]),
        Route(f"{s}/mask/mode", mask_mode, methods=["POST"]),
        Route(f"{s}/mask.png", mask_image),
        Route(f"{s}/roi.png", roi_download),
        Route(f"{s}/roi", roi_upload, methods=["POST"]),
        Route(f"{s}/stop", stop, methods=["POST"]),
        Route(f"{s}/compare", compare),
        Route(f"{s}/evaluate", evaluate, methods=["POST"]),
        Route(f"{s}/export", export, methods=["POST"]),
        Route(f"{s}/export.zip", export_zip),
        *pod_routes(s),
        *mill_routes(s),
    ]

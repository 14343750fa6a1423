"""The page's inspection verdict: probability of detection of its current light.

``POST /api/s/{sid}/pod`` runs ``scratchlight pod`` (``pod.run_pod``) on the open surface
under the light the page shows (the painted or optimized one): straight scratches planted
over a sweep of depths and orientations, each judged by the display observer's d' through
the inspection camera, POD(depth) fitted by the MIL-HDBK-1823A GLM. A job, on the Mitsuba
thread; its result gives a50, a90 and a90/95 (micrometres), the orientations where the light
is blind, and the two plots, served by ``GET /api/s/{sid}/pod/pod.png`` and
``.../orientation.png`` from the session's own folder under ``--out``.

The sweep is small, so that the page answers in tens of seconds on two cores: 4 depths
(0.5-4 um), 4 orientations, two surface seeds (32 scratches), 2 x 2 per plate, 128 pixels. For a
verdict to sign off, run ``scratchlight pod`` with its defaults or more seeds.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from ..errors import InputError
from .handlers import api, json_body

__all__ = ["pod_routes", "pod_of_current_light", "PLOTS", "PAGE_SWEEP"]

PLOTS = ("pod.png", "orientation.png")
PAGE_SWEEP = dict(depths=(0.5, 1.0, 2.0, 4.0), orientations=(0.0, 45.0, 90.0, 135.0),
                  seeds=2, grid=2, resolution=128, spp=16)
"""The page's sweep (``scratchlight pod`` options): small enough to answer in tens of
seconds."""


def _finite(v):
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def pod_of_current_light(ws, out_root: str | Path, job=None) -> dict:
    """``run_pod`` of the page's light on its open surface (Mitsuba thread); the folder is
    ``out_root/pod/<session id>`` (replaced by each run). Returns the verdict for the page."""
    from ..pod import PodConfig, run_pod
    from ..surface import SurfaceConfig

    session = ws._require()
    if ws.optimizing:
        raise InputError("pod", "stop the optimization first")
    light = ws.light.copy()
    cfg = PodConfig.from_options(**PAGE_SWEEP, light=("uniform",))  # the light: the page's
    cfg = dataclasses.replace(cfg, surface=SurfaceConfig(path=ws.surface_path, max_size=256,
                                                         level=session.surface_config.level))
    cfg.validate()
    folder = Path(out_root) / "pod" / ws.id[:12]
    folder.mkdir(parents=True, exist_ok=True)
    if job is not None:
        job.report(0.05, "planting scratches and rendering them under the page's light")
    doc = run_pod(cfg, folder, progress=False, lights={"page light": light})
    ws.run_inputs["pod_folder"] = str(folder)
    verdict = next(iter(doc["lights"].values()))
    hit_miss = verdict.get("hit_miss") or {}
    return {"a50_um": _finite(hit_miss.get("a50")), "a90_um": _finite(hit_miss.get("a90")),
            "a90_95_um": _finite(hit_miss.get("a90_95")),
            "status": hit_miss.get("status", "ok"), "note": hit_miss.get("note"),
            "hits": verdict.get("hits"), "defects": verdict.get("defects"),
            "blind_deg": verdict.get("blind") or [],
            "weakest_deg": (verdict.get("weakest") or {}).get("orientation_deg"),
            "plots": {name: f"/api/s/{ws.id}/pod/{name}" for name in PLOTS},
            "sweep": {k: list(v) if isinstance(v, tuple) else v for k, v in PAGE_SWEEP.items()}}


@api
async def start_pod(request, studio, ws):
    await json_body(request)  # no options yet: the page's sweep
    ws._require()
    job = studio.start_job(ws, "pod", lambda job: pod_of_current_light(ws, studio.out_dir, job))
    return JSONResponse({"job": job.to_json()}, status_code=202)


@api
async def pod_plot(request, studio, ws):
    name = request.path_params["name"]
    folder = ws.run_inputs.get("pod_folder")
    if name not in PLOTS:  # a fixed set of names: no path of the client's reaches the disk
        raise InputError("pod", f"no such plot {name!r}; choose from {', '.join(PLOTS)}")
    if not folder or not (Path(folder) / name).is_file():
        raise InputError("pod", "run the probability of detection first")
    return FileResponse(Path(folder) / name, media_type="image/png")


def pod_routes(prefix: str) -> list[Route]:
    """The routes under the session's ``prefix`` (``/api/s/{sid}``)."""
    return [Route(f"{prefix}/pod", start_pod, methods=["POST"]),
            Route(f"{prefix}/pod/{{name}}", pod_plot)]

"""The studio server: its configuration, the shared state, and the ASGI app.

``create_app(StudioConfig(...))`` returns a Starlette app: the page and its assets from
``static/`` (shipped in the package, nothing fetched at run time), the JSON API
(``routes``) and the optimization WebSocket (``stream``), behind ``TokenGuard``.
``scratchlight studio`` serves it with uvicorn.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
from pathlib import Path

from ..errors import InputError
from ..io.guards import point_limit
from .config import StudioConfig
from .registry import SessionRegistry
from .routes import api_routes, page_routes
from .stream import optimize_socket
from .uploads import UploadLedger
from .security import TokenGuard, check_file_name, is_loopback, LOOPBACK_HOSTS, new_token, resolve_data_file
from .worker import Busy, Job, MitsubaWorker, run_job
from .workspace import StudioSession, StudioSettings, ViewSettings

__all__ = ["StudioConfig", "Studio", "create_app", "STATIC_DIR"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


class Studio:
    """Everything the routes share: config, sessions, the Mitsuba thread, the surfaces."""

    def __init__(self, config: StudioConfig):
        config.validate()
        self.config = config
        require = config.require_token if config.require_token is not None else not is_loopback(config.host)
        self.token = (config.token or new_token()) if require else None
        self.settings = StudioSettings(envmap_shape=tuple(config.envmap_size),
                                       relight_spp=config.relight_spp, max_size=config.max_size,
                                       device=config.device)
        self.registry = SessionRegistry(
            lambda sid: StudioSession(sid, self.settings, ViewSettings(resolution=config.resolution)),
            config.max_sessions, config.max_matrices)
        self.worker = MitsubaWorker(config.device)
        self.out_dir = Path(config.out_dir).resolve()
        self._tasks: set[asyncio.Task] = set()
        self._ledgers: dict[str, UploadLedger] = {}  # session id -> its uploads

    # ------------------------------------------------------------------ surfaces
    def surfaces(self) -> list[dict]:
        """The height maps the page may open: the given file, then ``--data``'s by name."""
        from ..io import READERS

        out, seen = [], set()
        if self.config.heightmap:
            p = Path(self.config.heightmap)
            out.append({"name": p.name, "bytes": p.stat().st_size, "source": "argument"})
            seen.add(p.name)
        if self.config.data_dir:
            for p in sorted(Path(self.config.data_dir).iterdir()):
                if p.name in seen or p.name.startswith(".") or p.suffix.lower() not in READERS:
                    continue
                try:
                    path = resolve_data_file(self.config.data_dir, p.name)
                except InputError:
                    continue  # a link out of the folder, a folder, ...
                out.append({"name": p.name, "bytes": path.stat().st_size, "source": "data"})
        return out

    def surface_path(self, name: str) -> Path:
        """The server path of the surface the page names (InputError otherwise)."""
        from ..io import READERS

        check_file_name(name, "surface")
        if self.config.heightmap and name == Path(self.config.heightmap).name:
            return Path(self.config.heightmap).resolve()
        if not self.config.data_dir:
            raise InputError(name, "no such surface (the server has no --data folder)")
        path = resolve_data_file(self.config.data_dir, name)
        if path.suffix.lower() not in READERS:
            raise InputError(name, "not a height-map file")
        return path

    def store_upload(self, data: bytes, name: str, extensions, ws=None) -> Path:
        """Keep uploaded bytes under ``out_dir/uploads`` (run.json may name them), counted
        against the quota of session ``ws`` (``discard_upload`` deletes a failed one)."""
        check_file_name(name, "upload")
        ext = os.path.splitext(name)[1].lower()
        if ext not in extensions:
            raise InputError(name, f"unsupported file type {ext or '(none)'!r}; "
                                   f"supported: {', '.join(sorted(extensions))}")
        ledger = self._ledgers.setdefault(ws.id, UploadLedger()) if ws is not None else None
        if ledger is not None:
            ledger.check(name, len(data), self.config.upload_quota_bytes)
        folder = self.out_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", os.path.splitext(name)[0])[:60] or "upload"
        path = folder / f"{hashlib.sha256(data).hexdigest()[:12]}-{stem}{ext}"
        if not path.exists():
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        if ledger is not None:
            ledger.add(path, len(data))
        return path

    def discard_upload(self, ws, path) -> None:
        """Delete an upload that failed its checks (it no longer counts to the quota)."""
        self._ledgers.setdefault(ws.id, UploadLedger()).discard(path)

    def bounded(self, fn):
        """``fn`` wrapped so that the readers it calls take the studio's point limit."""
        limit, setting = self.config.max_points, "the studio's --max-points"

        def call(*args, **kwargs):
            with point_limit(limit, setting):
                return fn(*args, **kwargs)
        return call

    # ------------------------------------------------------------------ jobs
    def start_job(self, ws: StudioSession, kind: str, fn) -> Job:
        """Run ``fn(job)`` on the Mitsuba thread as the session's job (one at a time)."""
        if ws.job is not None and not ws.job.finished:
            raise Busy(f"busy: {ws.job.kind} is still running")
        job = Job(kind)
        ws.job = job

        async def call():
            try:
                return await self.worker.run(fn, job)
            finally:
                self.registry.enforce_matrices()

        task = asyncio.create_task(run_job(job, call))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def shutdown(self) -> None:
        self.registry.close_all()
        self.worker.shutdown()


def create_app(config: StudioConfig | None = None, studio: Studio | None = None):
    """The ASGI app of the studio (see module docstring)."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount, WebSocketRoute
    from starlette.staticfiles import StaticFiles

    studio = studio or Studio(config or StudioConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        studio.shutdown()

    allowed = None if studio.token else LOOPBACK_HOSTS
    app = Starlette(
        routes=[*page_routes(), *api_routes(),
                WebSocketRoute("/api/s/{sid}/optimize", optimize_socket),
                Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")],
        middleware=[Middleware(TokenGuard, token=studio.token, allowed_hosts=allowed)],
        lifespan=lifespan)
    app.state.studio = studio
    return app

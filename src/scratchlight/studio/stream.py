"""The optimization stream: one WebSocket per page, ``/api/s/{sid}/optimize``.

The page sends ``{"action": "start", "options": {...}}`` (a new run with the page's
options), ``{"action": "resume", "options": {...}}`` (more iterations of the last run,
from where it stopped) or ``{"action": "stop"}``. The server answers with
``{"type": "started"}``, then after every iteration ``{"type": "step", "iteration",
"loss", "losses": [...], "envmap": {...}, "image": "data:image/png;base64,..."}`` and at the
end ``{"type": "done", ...}``, or ``{"type": "error", "message"}`` (the session stays
usable). The page keeps its socket open while it is open: a session with an open socket
is in use and never evicted for a new one (``registry``). When iterations come faster than frames can be sent, the losses of all of them
are sent and the light and render of the latest only. Closing the page's last socket stops its run.
"""
from __future__ import annotations

import asyncio
import logging
import time

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from ..errors import InputError
from ..options import unknown_name
from .imaging import encode_png, envmap_to_json, png_data_url
from .runs import execute_run, plan_run
from .worker import Busy, public_error

__all__ = ["optimize_socket"]

log = logging.getLogger("scratchlight.studio")


class _Sender:
    """Serializes sends on one socket; a closed socket makes sends no-ops."""

    def __init__(self, websocket: WebSocket):
        self.ws = websocket
        self.lock = asyncio.Lock()
        self.open = True

    async def send(self, message: dict) -> None:
        if not self.open:
            return
        async with self.lock:
            try:
                await self.ws.send_json(message)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self.open = False


async def _run(studio, ws, action: str, options: dict, out: _Sender) -> None:
    """One start or resume, streamed."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def on_step(step):  # on the optimizing thread
        loop.call_soon_threadsafe(queue.put_nowait, step)

    try:
        if ws.optimizing or (ws.job is not None and not ws.job.finished):
            raise Busy("busy: wait for the running step to finish")
        plan = await studio.worker.run(plan_run, ws, action, options)
        await out.send({"type": "started", "action": action, "engine": plan.optimizer.engine,
                        "iterations": plan.optimizer.iterations,
                        "first_iteration": ws.session.run.iterations_done if plan.resume else 0})
        t0 = time.perf_counter()
        if plan.optimizer.engine == "transport":  # NumPy only once the matrices are built
            run_task = asyncio.ensure_future(anyio.to_thread.run_sync(execute_run, ws, plan, on_step))
        else:
            run_task = asyncio.ensure_future(studio.worker.run(execute_run, ws, plan, on_step))
        frames = 0
        while True:
            getter = asyncio.ensure_future(queue.get())
            await asyncio.wait({getter, run_task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                if queue.empty():
                    break
                steps = []
            else:
                steps = [getter.result()]
            while not queue.empty():
                steps.append(queue.get_nowait())
            if not steps:
                continue
            last = steps[-1]
            png = await anyio.to_thread.run_sync(lambda: encode_png(ws.relight(last.envmap)))
            await out.send({"type": "step", "iteration": last.iteration, "loss": last.loss,
                            "iterations": [s.iteration for s in steps],
                            "losses": [s.loss for s in steps],
                            "envmap": envmap_to_json(last.envmap), "image": png_data_url(png)})
            frames += 1
        run = await run_task
        seconds = time.perf_counter() - t0
        after = await anyio.to_thread.run_sync(lambda: encode_png(ws.relight(run.envmap)))
        await out.send({"type": "done", "iterations_done": run.iterations_done,
                        "stopped": run.stopped, "loss": run.loss,
                        "best_loss": min(run.loss) if run.loss else None,
                        "envmap": envmap_to_json(run.envmap), "image": png_data_url(after),
                        "seconds": round(seconds, 3), "frames": frames})
    except InputError as e:
        await out.send({"type": "error", "message": public_error(e)})
    except Busy as e:
        await out.send({"type": "error", "message": str(e)})
    except Exception as e:  # the socket and the session stay usable
        log.exception("optimization failed")
        await out.send({"type": "error", "message": f"optimization failed: {e}"})


async def optimize_socket(websocket: WebSocket) -> None:
    studio = websocket.app.state.studio
    try:
        ws = studio.registry.get(websocket.path_params["sid"])
    except KeyError:
        await websocket.close(code=4404, reason="unknown or expired session")
        return
    await websocket.accept()
    out = _Sender(websocket)
    task: asyncio.Task | None = None
    ws.sockets += 1  # an open page: a new session never evicts this one
    try:
        while True:
            try:
                msg = await websocket.receive_json()
            except (ValueError, KeyError, RecursionError):  # RecursionError: nested too deeply
                await out.send({"type": "error", "message": "expected a JSON message"})
                continue
            action = msg.get("action") if isinstance(msg, dict) else None
            if action == "stop":
                ws.stop_event.set()
            elif action in ("start", "resume"):
                if task is not None and not task.done():
                    await out.send({"type": "error", "message": "an optimization is already running"})
                    continue
                task = studio.spawn(_run(studio, ws, action, msg.get("options") or {}, out))
            else:
                bad = unknown_name(str(action), ("start", "resume", "stop"), "action")
                await out.send({"type": "error", "message": public_error(bad)})
    except WebSocketDisconnect:
        pass
    finally:
        ws.sockets -= 1
        out.open = False
        if ws.sockets <= 0:  # the last closed socket of the page stops its run (best map kept)
            ws.stop_event.set()

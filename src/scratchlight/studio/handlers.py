"""What every JSON handler of the studio shares: the session it names and one-line errors.

Errors come back as ``{"error": "one line"}``: 400 for bad input (the readers' and the
configs' own messages, files named by name), 404 for an unknown or evicted session, 409
while the session is busy or not ready, 413 for an oversized upload.
"""
from __future__ import annotations

import functools

from starlette.responses import JSONResponse

from ..errors import InputError
from .security import TooLarge, read_body
from .worker import Busy, public_error
from .workspace import NotReady

__all__ = ["api", "json_body", "load_job"]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def api(handler):
    """Resolve ``{sid}`` to its session and turn errors into JSON answers."""
    @functools.wraps(handler)
    async def wrapped(request):
        studio = request.app.state.studio
        try:
            ws = None
            if "sid" in request.path_params:
                try:
                    ws = studio.registry.get(request.path_params["sid"])
                except KeyError:
                    return _error(404, "unknown or expired session; reload the page")
            return await handler(request, studio, ws)
        except InputError as e:
            return _error(400, public_error(e))
        except (NotReady, Busy) as e:
            return _error(409, str(e))
        except TooLarge as e:
            return _error(413, f"the request is larger than {e.limit / 2 ** 20:g} MiB"
                               f"{' (--max-upload-mb)' if e.limit == studio.config.max_upload_bytes else ''}")
    return wrapped


async def json_body(request) -> dict:
    """The request's JSON object (at most 1 MiB), {} for an empty body; InputError else."""
    body = await read_body(request, 1 << 20)
    if not body:
        return {}
    import json

    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InputError("request", "the body is not valid JSON") from None
    except RecursionError:  # nesting deeper than the parser's recursion limit
        raise InputError("request", "the JSON body is nested too deeply") from None
    if not isinstance(data, dict):
        raise InputError("request", "expected a JSON object")
    return data


def load_job(studio, ws, path, name, view=None) -> JSONResponse:
    """Start the job that opens ``path`` (shown as ``name``) in session ``ws`` with ``view``
    (default its current one), within the studio's point limit; the 202 answer names it."""
    load = studio.bounded(ws.load)
    view = ws.view if view is None else view
    job = studio.start_job(ws, "load", lambda job: load(str(path), name, view, job))
    return JSONResponse({"job": job.to_json()}, status_code=202)

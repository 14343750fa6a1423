"""Who may talk to the studio, and which files the browser may name.

- ``TokenGuard``: ASGI middleware. Bound to a loopback address the server trusts the
  machine's own browser but checks the ``Host`` header (no DNS rebinding); bound to any
  other address it requires a random token on every request and WebSocket (query
  ``?token=``, header ``X-Studio-Token`` or the cookie set when the page was opened with
  the token). Requests from another origin that change state (WebSocket, POST, ...) are
  refused either way. Every answer forbids framing (``X-Frame-Options: DENY`` and CSP
  ``frame-ancestors 'none'``): no other site can show the studio in a frame.
- ``resolve_data_file``: a surface is named by its plain file name inside ``--data DIR``;
  no separators, no ``..``, no hidden files, no links leading out of the folder.
- ``read_body``: a request body, refused (413) past a size limit before it is all read.
"""
from __future__ import annotations

import hmac
import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import InputError

__all__ = ["LOOPBACK_HOSTS", "TOKEN_HEADER", "TOKEN_COOKIE", "new_token", "is_loopback",
           "TokenGuard", "resolve_data_file", "check_file_name", "read_body", "TooLarge"]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_HEADER = "x-studio-token"
TOKEN_COOKIE = "scratchlight_studio_token"
TOKEN_QUERY = "token"
NO_FRAMING = [(b"x-frame-options", b"DENY"),
              (b"content-security-policy", b"frame-ancestors 'none'")]
"""Headers of every HTTP answer: the studio is never shown inside another page's frame."""


def new_token() -> str:
    """A fresh random token (32 URL-safe characters, 192 bits)."""
    return secrets.token_urlsafe(24)


def is_loopback(host: str) -> bool:
    return host.strip("[]") in LOOPBACK_HOSTS


def _host_name(value: str) -> str:
    """'127.0.0.1:8765' -> '127.0.0.1', '[::1]:80' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class TokenGuard:
    """ASGI middleware enforcing the token (when ``token`` is set) and the origin rules."""

    def __init__(self, app, token: str | None, allowed_hosts: tuple[str, ...] | None = None):
        self.app = app
        self.token = token
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    def _given_token(self, scope, headers) -> tuple[str | None, bool]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if query.get(TOKEN_QUERY):
            return query[TOKEN_QUERY][0], True
        if headers.get(TOKEN_HEADER):
            return headers[TOKEN_HEADER], False
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is simply no token
            return None, False
        return (cookie[TOKEN_COOKIE].value if TOKEN_COOKIE in cookie else None), False

    def _refusal(self, scope, headers) -> str | None:
        host = _host_name(headers.get("host", ""))
        if self.allowed_hosts is not None and host not in self.allowed_hosts:
            return "unknown host"
        origin = headers.get("origin")
        changes_state = scope["type"] == "websocket" or scope.get("method", "GET") not in ("GET", "HEAD")
        if origin and changes_state and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
            return "cross-origin request"
        if self.token is not None:
            given, _ = self._given_token(scope, headers)
            if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
                return "missing or wrong token"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        if scope["type"] == "http":
            send = _no_framing(send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        problem = self._refusal(scope, headers)
        if problem is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": problem})
                return
            body = f"forbidden: {problem}\n".encode()
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        given, from_query = self._given_token(scope, headers) if self.token else (None, False)
        if scope["type"] == "http" and from_query:
            # the page was opened with ?token=...: let its own assets and calls carry it
            cookie = (f"{TOKEN_COOKIE}={given}; Path=/; HttpOnly; SameSite=Strict").encode()

            async def send_with_cookie(message):
                if message["type"] == "http.response.start":
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + [(b"set-cookie", cookie)]
                await send(message)

            return await self.app(scope, receive, send_with_cookie)
        return await self.app(scope, receive, send)


def _no_framing(send):
    """``send`` with ``NO_FRAMING`` added to the response's headers."""
    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = dict(message)
            message["headers"] = list(message.get("headers", [])) + NO_FRAMING
        await send(message)
    return wrapped


def check_file_name(name: str, what: str = "file") -> str:
    """``name`` if it is a plain file name (no folders, no ``..``, not hidden), else InputError."""
    if not isinstance(name, str) or not name or len(name) > 255:
        raise InputError(what, "expected a file name")
    if "/" in name or "\\" in name or "\x00" in name or name.startswith(".") or name in (".", ".."):
        raise InputError(what, "expected a plain file name (no folders, not hidden)")
    return name


def resolve_data_file(root: str | os.PathLike, name: str) -> Path:
    """The file ``name`` inside the folder ``root``; InputError when it is not a plain name,
    does not exist, is not a regular file, or resolves (through links) outside ``root``."""
    check_file_name(name, "surface")
    base = Path(root).resolve()
    path = (base / name).resolve()
    if path.parent != base:
        raise InputError(name, "is not inside the data folder")
    if not path.is_file():
        raise InputError(name, "no such surface in the data folder")
    return path


class TooLarge(Exception):
    """A request body above ``limit`` bytes."""

    def __init__(self, limit: int = 0):
        super().__init__(limit)
        self.limit = limit


async def read_body(request, limit: int) -> bytes:
    """The whole body of a Starlette ``request``, raising ``TooLarge`` as soon as it (or its
    declared Content-Length) exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)

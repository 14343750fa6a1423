"""The pages' sessions, bounded: at most ``max_sessions`` sessions and ``max_matrices``
sessions holding transport matrices in memory; the least recently used go first.

A new session may only evict an idle one (no open optimization socket, no optimization
and no job running): a page that is open keeps its socket, so pages from elsewhere (a
site framing the studio, a script) can never push out the one being worked in. When every
session is in use the new one is refused (``RegistryFull``, answered 503). An evicted
session is stopped and forgotten; a page that still uses it is told to start a new one. A
session whose matrices are released keeps its surface and state; its next relight loads
them from the on-disk cache.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

from .workspace import StudioSession

__all__ = ["SessionRegistry", "RegistryFull", "in_use"]


class RegistryFull(Exception):
    """Every session is in use; no new one can be made."""


def in_use(ws: StudioSession) -> bool:
    """A page is working in ``ws``: a socket is open, it optimizes, or a job runs."""
    return ws.sockets > 0 or ws.optimizing or (ws.job is not None and not ws.job.finished)


class SessionRegistry:
    def __init__(self, factory: Callable[[str], StudioSession], max_sessions: int = 8,
                 max_matrices: int = 4):
        if max_sessions < 1 or max_matrices < 1:
            raise ValueError("max_sessions and max_matrices must be at least 1")
        self.factory = factory
        self.max_sessions = int(max_sessions)
        self.max_matrices = int(max_matrices)
        self._sessions: OrderedDict[str, StudioSession] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, sid: str) -> bool:
        return sid in self._sessions

    def create(self) -> StudioSession:
        """A new session; when the registry is full the least recently used idle session is
        evicted, and when none is idle ``RegistryFull`` is raised (nothing is evicted)."""
        sid = secrets.token_urlsafe(12)
        with self._lock:
            gone = []
            idle = [k for k, old in self._sessions.items() if not in_use(old)]  # LRU first
            while len(self._sessions) >= self.max_sessions:
                if not idle:
                    raise RegistryFull(
                        f"all {self.max_sessions} studio sessions are in use (--max-sessions); "
                        "close another studio tab and reload")
                gone.append(self._sessions.pop(idle.pop(0)))
            ws = self.factory(sid)
            self._sessions[sid] = ws
        for old in gone:
            self._close(old)
            self.evicted += 1
        return ws

    def get(self, sid: str) -> StudioSession:
        """The session ``sid`` (KeyError if unknown or evicted), marked as just used."""
        with self._lock:
            ws = self._sessions[sid]
            self._sessions.move_to_end(sid)
        ws.last_used = time.monotonic()
        return ws

    def remove(self, sid: str) -> bool:
        with self._lock:
            ws = self._sessions.pop(sid, None)
        if ws is not None:
            self._close(ws)
        return ws is not None

    def enforce_matrices(self) -> int:
        """Release the matrices of the least recently used sessions beyond ``max_matrices``
        (sessions that are optimizing keep theirs); returns how many were released."""
        with self._lock:
            holders = [ws for ws in self._sessions.values() if ws.engine is not None]
        released = 0
        for ws in holders[:max(0, len(holders) - self.max_matrices)]:
            released += ws.release_engines()
        return released

    def matrices_held(self) -> int:
        with self._lock:
            return sum(ws.engine is not None for ws in self._sessions.values())

    @staticmethod
    def _close(ws: StudioSession) -> None:
        ws.close()

    def close_all(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for ws in sessions:
            self._close(ws)

"""Where a command's time goes: wall seconds per step, saved in ``run.json`` (``phases_s``)
and read back by ``benchmarks/whole_command.py``.

The first entry, ``start``, is the age of the process when the first step began: starting
Python and importing, which a user waits for as much as for any step.
"""
from __future__ import annotations

import contextlib
import os
import time

__all__ = ["Phases", "process_age_s"]


def process_age_s() -> float | None:
    """Seconds since this process started (Linux's /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat", "rb") as f:
            start_ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/uptime", "rb") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class Phases(dict):
    """``{step: wall seconds}`` in the order the steps first ran; a step that runs again
    (a resumed optimization) adds to its total."""

    def __init__(self):
        super().__init__(start=process_age_s())

    def add(self, name: str, seconds: float) -> None:
        self[name] = self.get(name, 0.0) + float(seconds)

    @contextlib.contextmanager
    def timed(self, name: str):
        """``with phases.timed("scene"): ...`` adds the block's wall time to ``name``."""
        t = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - t)

    def rounded(self) -> dict:
        """A copy for JSON: seconds to 0.1 ms, None kept."""
        return {k: None if v is None else round(float(v), 4) for k, v in self.items()}

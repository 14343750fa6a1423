"""One progress bar for a batch: rows done and failed, and an estimate of the time left."""
from __future__ import annotations

import sys

__all__ = ["BatchProgress"]


class BatchProgress:
    """A tqdm bar over the rows to run (rows already complete are not counted); the time
    left is tqdm's estimate from the rows finished so far. Failed rows are also printed, one
    line each, above the bar. ``enabled=False`` prints nothing."""

    def __init__(self, total: int, enabled: bool = True, label: str = "batch"):
        from tqdm import tqdm

        self.done = self.failed = 0
        self.enabled = enabled
        self.bar = tqdm(total=total, desc=label, unit="row", disable=not enabled,
                        file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
        self._postfix()

    def _postfix(self) -> None:
        self.bar.set_postfix_str(f"{self.done} done, {self.failed} failed", refresh=False)

    def row_finished(self, name: str, ok: bool, error: str | None = None) -> None:
        if ok:
            self.done += 1
        else:
            self.failed += 1
            if self.enabled:
                self.bar.write(f"row {name} failed: {error}", file=sys.stderr)
        self._postfix()
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()

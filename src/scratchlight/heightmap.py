"""The HeightMap type shared by every stage (the bottom layer: it imports nothing of ours).

A height map is a regular grid of surface heights. Row index ``i`` runs along y, column
index ``j`` along x, so ``heights`` has shape ``(ny, nx)``. Heights and spacings are in
metres. Missing points (voids of an optical scan) are NaN in ``heights`` and False in
``valid``; :func:`scratchlight.surface.fill_missing` removes them before rendering.
"""
from __future__ import annotations

import dataclasses
from typing import Mapping

import numpy as np

__all__ = ["HeightMap"]


@dataclasses.dataclass(frozen=True)
class HeightMap:
    """A measured or simulated surface.

    Attributes:
        heights: (ny, nx) float64, metres; NaN where a point is missing.
        dx: spacing between columns (along x), metres, > 0.
        dy: spacing between rows (along y), metres, > 0.
        valid: (ny, nx) bool, True where a height was measured.
        source: where the map came from (a path, or a description).
        truth: optional (ny, nx) bool ground-truth defect mask (synthetic surfaces).
        provenance: where the values came from, e.g. ``{"spacing": "file header",
            "heights": "default (metres)"}`` (kinds: file header, sidecar, file format,
            default).
        warnings: problems noticed while reading that did not stop it (one sentence each).
    """

    heights: np.ndarray
    dx: float
    dy: float
    valid: np.ndarray
    source: str = ""
    truth: np.ndarray | None = None
    provenance: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)
    warnings: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.heights.shape

    @property
    def size_m(self) -> tuple[float, float]:
        """Physical extent (width along x, height along y) in metres."""
        ny, nx = self.heights.shape
        return ((nx - 1) * self.dx, (ny - 1) * self.dy)

    @property
    def missing_fraction(self) -> float:
        return float(1.0 - self.valid.mean())

    def replace(self, **changes) -> "HeightMap":
        return dataclasses.replace(self, **changes)

"""The records of a session's optimization: one step as a callback sees it, and a run."""
from __future__ import annotations

import dataclasses

import numpy as np

from .config import LightConfig, OptimizerConfig

__all__ = ["OptimizationStep", "OptimizationRun"]


@dataclasses.dataclass(frozen=True)
class OptimizationStep:
    """What a callback sees after each iteration: ``envmap`` is the updated E (H, W, C)
    float32 (a copy), ``loss`` the objective of the render before the update."""

    iteration: int
    envmap: np.ndarray
    loss: float


@dataclasses.dataclass
class OptimizationRun:
    """One call of :meth:`Session.optimize` (or several, when resumed): the light, the
    per-iteration curves, and the settings it ran with."""

    light: LightConfig
    optimizer: OptimizerConfig
    seed: int
    initial_envmap: np.ndarray
    envmap: np.ndarray
    best_envmap: np.ndarray
    mask: np.ndarray
    loss: list[float]
    l_grad: list[float]
    l_l2: list[float]
    time_s: float
    engine_setup_s: float
    interrupted: bool
    stopped: bool
    adam: object = None
    engine: str = "ad"
    """The engine that ran: 'ad' or 'transport' ('auto' resolved)."""
    engine_choice: dict | None = None
    """How 'auto' chose it (``engines.choice.EngineChoice.to_dict``), None if named."""

    @property
    def iterations_done(self) -> int:
        return len(self.loss)

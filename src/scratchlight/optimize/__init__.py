"""Stage 6 — optimizing the light: configs, initial states, Adam, the loop.

Whole runs (surface to results folder) are driven by ``scratchlight.session``."""
from .config import ENGINE_NAMES, OPTION_FIELDS, LightConfig, OptimizeConfig, OptimizerConfig
from .init import INIT_KINDS, cie_lightness, initial_envmap, specular_direction_map
from .loop import Adam, OptimizationResult, iteration_seed, optimize_light
from .run import OptimizationRun, OptimizationStep

__all__ = [
    "ENGINE_NAMES", "OPTION_FIELDS", "LightConfig", "OptimizeConfig", "OptimizerConfig",
    "INIT_KINDS", "cie_lightness", "initial_envmap", "specular_direction_map", "Adam",
    "OptimizationResult", "iteration_seed", "optimize_light", "OptimizationRun",
    "OptimizationStep",
]

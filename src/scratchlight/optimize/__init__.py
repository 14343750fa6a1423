"""Stage 6 — optimizing the light: config, initial states, the Adam loop, whole runs."""
from .config import OptimizeConfig
from .init import INIT_KINDS, cie_lightness, initial_envmap, specular_direction_map
from .loop import Adam, OptimizationResult, iteration_seed, optimize_light
from .run import objective_mask, prepare_run, run_optimization

__all__ = [
    "OptimizeConfig", "INIT_KINDS", "cie_lightness", "initial_envmap",
    "specular_direction_map", "Adam", "OptimizationResult", "iteration_seed", "optimize_light",
    "objective_mask", "prepare_run", "run_optimization",
]

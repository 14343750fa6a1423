"""A whole optimization run from a config to a results folder (a thin caller of the session).

See ``report.results`` for what the folder holds.
"""
from __future__ import annotations

from .config import OptimizeConfig

__all__ = ["run_optimization"]


def run_optimization(cfg: OptimizeConfig, out_dir: str, progress: bool = True) -> dict:
    """Run the optimization described by ``cfg`` and write the results into ``out_dir``.

    Returns the dictionary that is saved as ``run.json``.
    """
    from ..session import Session

    session = Session.from_config(cfg, progress=progress)
    session.optimize(cfg.light, cfg.optimizer, seed=cfg.seed)
    return session.save(out_dir, cfg)

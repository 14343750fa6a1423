"""Batch studies: many parts and settings from one plan, on this machine or a Ray cluster.

``load_plan(path)`` reads a TOML or CSV plan into rows of flat options (``plan``);
``run_batch(plan, out_dir, BatchSettings(...))`` runs every row through the library call
of its command (``run_optimization``, ``save_render``, ``save_relight``,
``save_evaluation``) on a local process pool (``local``) or Ray (``ray_executor``), one
atomic folder per row (``folders``), skipping rows already done, and writes the comparison
page, ``summary.csv`` and a plot (``summary``, ``page``, ``report``).
"""
from .plan import Plan, load_plan
from .run import BatchResult, BatchSettings, run_batch

__all__ = ["Plan", "load_plan", "BatchSettings", "BatchResult", "run_batch"]

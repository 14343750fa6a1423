"""Milling simulation: a 3-axis G-code program and its tools cut a height field.

``gcode`` reads a program's blocks, ``motion`` runs them into straight tip segments,
``tools`` holds the cutter shapes and the ``--tool`` grammar, ``kernel`` is the compiled
sweep, ``simulate`` the grid and tooth passes, ``config`` and ``run`` the command
``scratchlight mill``. Only ``run`` and ``kernel`` import numba (through ``compiled``), at
the first simulation.
"""
from __future__ import annotations

from .config import MillConfig
from .motion import Path, run_program
from .tools import Tool, parse_tool

__all__ = ["MillConfig", "Path", "Tool", "parse_tool", "run_program", "simulate", "run_mill"]


def __getattr__(name):
    if name == "simulate":
        from .simulate import simulate
        return simulate
    if name == "run_mill":
        from .run import run_mill
        return run_mill
    raise AttributeError(name)

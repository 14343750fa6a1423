"""``run_mill``: a program, its tools and the stock to a height map (``.npz``) and its
``OUT.run.json``.

The ``.npz`` is the one ``synth`` writes (``heights`` in metres, ``dx``, ``dy``, ``valid``),
so every command reads it; it also holds ``mill``, a JSON text (a 0-d unicode array)
with the program's path and SHA-256, the tools, the stock, the window and the counts.
``OUT.run.json`` holds the config (``--config`` repeats the run) and the same record.
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from ..errors import InputError
from .config import MillConfig, parse_region, parse_spacing, parse_stock
from .gcode import read_program_file
from .motion import run_program
from .simulate import MillResult, grid_window, simulate

__all__ = ["run_mill", "mill", "run_json_path"]


def run_json_path(out: str) -> str:
    """Where the config of a run whose output is ``out`` is saved: OUT.run.json."""
    return os.path.splitext(out)[0] + ".run.json"


def _shown(path: str) -> str:
    """A program's path as messages show it: relative to the current folder when below it."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def mill(cfg: MillConfig, progress: bool = True) -> tuple[MillResult, dict]:
    """Simulate ``cfg`` (validated here); returns (result, record of what was done)."""
    cfg.validate()
    tool, table = cfg.tools()
    stock = parse_stock(cfg.stock)
    region = parse_region(cfg.region)
    spacing = parse_spacing(cfg.spacing)
    window = grid_window(stock, spacing, region)
    where = _shown(cfg.program)
    text = read_program_file(where)
    start = time.perf_counter()
    # chords within a tenth of the spacing (at most 0.1 um) of the arc
    path = run_program(text, where, chord_tolerance=min(0.1e-6, spacing / 10))
    parse_s = time.perf_counter() - start
    if len(path.segments) == 0:
        raise InputError(where, "the program makes no move")
    result = simulate(path, stock, window, tool, table, cfg.envelope, where, progress,
                      source=cfg.program)
    used = sorted({int(n) for n in path.tool})
    record = {
        "program": os.path.abspath(cfg.program),
        "program_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "tool": None if tool is None else tool.as_dict(),
        "tool_table": None if table is None else {f"T{k}": t.as_dict() for k, t in table.items()},
        "tools_used": [f"T{n}" if n >= 0 else "start" for n in used],
        "stock_m": {"x": [stock.x0, stock.x1], "y": [stock.y0, stock.y1], "top": stock.top},
        "window_m": {"x": [window.x0, window.x0 + window.nx * spacing],
                     "y": [window.y0, window.y0 + window.ny * spacing]},
        "first_point_m": [window.x0 + spacing / 2, window.y0 + spacing / 2],
        "spacing_m": spacing, "grid": [window.ny, window.nx],
        "envelope": cfg.envelope, "blocks": path.blocks, "segments": int(len(path.segments)),
        "arcs": path.arcs, "worst_chord_sagitta_m": path.worst_sagitta,
        "segments_with_tooth_marks": result.tooth_marks,
        "segments_as_envelope": result.envelope,
        "parse_seconds": round(parse_s, 3), "sweep_seconds": round(result.seconds, 3),
    }
    return result, record


def run_mill(cfg: MillConfig, out: str, progress: bool = True) -> dict:
    """``scratchlight mill``: simulate ``cfg``, write ``out`` (.npz) and OUT.run.json;
    returns the run.json document."""
    from ..config import config_to_dict
    from ..io import write_json, write_npz

    start = time.perf_counter()
    result, record = mill(cfg, progress)
    hm = result.heightmap
    write_npz(out, hm, mill=np.array(json.dumps(record, sort_keys=True)))
    doc = {"command": "mill", "config": config_to_dict(cfg), "mill": record,
           "seconds": round(time.perf_counter() - start, 3)}
    write_json(run_json_path(out), doc)
    return doc

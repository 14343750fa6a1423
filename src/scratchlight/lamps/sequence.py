"""``scratchlight lamps`` on a multi-shot results folder: one rig per shot, one table.

A folder of ``optimize --shots K`` holds ``envmap_shot1.exr`` .. ``envmap_shotK.exr`` and
no ``envmap.exr``. :func:`run_lamps_sequence` runs ``run_lamps`` once per shot (the same
options, the shot's map as the light; the transport matrices come from the cache after
the first shot) into ``shot1/`` .. ``shotK/`` of the output folder, each a complete lamps
folder replayable by its own ``run.json``, and writes the sequence as one table:

- ``sequence.csv``: lamp mode, one row per shot and exported lamp (``shot`` first, then
  the columns of that shot's ``lamps.csv``: a shot of two lamps has two rows); dome mode
  (``--dome``), one row per shot with each channel's drive level as a column;
- ``sequence.json``: those rows, each shot's judged objective against its full map and
  its folder.
"""
from __future__ import annotations

import csv
import dataclasses
import glob
import os
import re

from ..io.atomic import atomic_path, write_json

__all__ = ["sequence_lights", "run_lamps_sequence"]


def sequence_lights(path: str) -> list[str] | None:
    """The shots' maps ``envmap_shot1.exr`` .. in order, when ``path`` is a results folder
    of several shots (without ``envmap.exr``); None otherwise."""
    if not os.path.isdir(path) or os.path.isfile(os.path.join(path, "envmap.exr")):
        return None
    found = glob.glob(os.path.join(path, "envmap_shot*.exr"))
    number = lambda p: int(re.fullmatch(r"envmap_shot(\d+)\.exr", os.path.basename(p)).group(1))
    found = sorted((p for p in found if re.fullmatch(r"envmap_shot\d+\.exr", os.path.basename(p))),
                   key=number)
    return [os.path.abspath(p) for p in found] or None


def _read_csv(path: str) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run_lamps_sequence(cfg, shots: list[str], out_dir: str | os.PathLike,
                       progress: bool = True) -> dict:
    """Run ``cfg`` (a ``LampsConfig``) for each shot's map of ``shots`` and write the
    sequence table (module docstring); returns the ``sequence.json`` dictionary."""
    from .run import run_lamps

    out_dir = os.fspath(out_dir)
    summaries = []
    for k, light in enumerate(shots, start=1):
        if progress:
            print(f"shot {k} of {len(shots)}: {os.path.basename(light)}", flush=True)
        summaries.append(run_lamps(dataclasses.replace(cfg, source=light),
                                   os.path.join(out_dir, f"shot{k}"), progress))
    rows = []
    for k, s in enumerate(summaries, start=1):
        folder = os.path.join(out_dir, f"shot{k}")
        if s["mode"] == "lamps":
            rows += [{"shot": k, **r} for r in _read_csv(os.path.join(folder, "lamps.csv"))]
        else:
            levels = _read_csv(os.path.join(folder, "channels.csv"))
            rows.append({"shot": k, **{c["channel"]: c["level"] for c in levels}})
    if rows:
        fields = list(dict.fromkeys(key for r in rows for key in r))
        with atomic_path(os.path.join(out_dir, "sequence.csv"), suffix=".csv") as tmp:
            with open(tmp, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=fields, restval="")
                w.writeheader()
                w.writerows(rows)
    doc = {"command": "lamps", "mode": summaries[0]["mode"], "shots": len(shots),
           "rows": rows,
           "per_shot": [{"shot": k, "light": light, "folder": f"shot{k}",
                         "full_loss": s["full"]["loss"],
                         "rig_loss": (s["rigs"][-1]["loss"] if s["mode"] == "dome" else
                                      next((r["loss"] for r in s["rigs"]
                                            if r["count"] == s.get("exported_count")),
                                           None)),
                         "exported_count": s.get("exported_count")}
                        for k, (light, s) in enumerate(zip(shots, summaries), start=1)]}
    write_json(os.path.join(out_dir, "sequence.json"), doc)
    return doc

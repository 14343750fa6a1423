"""scratchlight info: what is in a height-map file, and where each value came from."""
from __future__ import annotations

import json

NAME = "info"
HELP = "print grid size, spacing, height range and missing fraction of a height map"


def add_arguments(p):
    p.add_argument("heightmap", help="height map file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def describe(hm) -> dict:
    """The numbers ``info`` prints: grid, spacing (um), size (mm), heights (um), missing
    fraction, and ``sources``: where the spacing and the heights came from (file header,
    sidecar, file format or default) with the reader's ``warnings``."""
    import numpy as np  # here: `scratchlight --help` starts without NumPy

    h = hm.heights[hm.valid]
    w, hh = hm.size_m
    return {
        "file": hm.source,
        "grid": [int(hm.shape[1]), int(hm.shape[0])],
        "spacing_um": [hm.dx * 1e6, hm.dy * 1e6],
        "size_mm": [w * 1e3, hh * 1e3],
        "height_min_um": float(h.min() * 1e6),
        "height_max_um": float(h.max() * 1e6),
        "height_range_um": float(np.ptp(h) * 1e6),
        "height_rms_um": float(np.std(h) * 1e6),
        "missing_fraction": hm.missing_fraction,
        "has_truth": hm.truth is not None,
        "sources": {k: str(v) for k, v in hm.provenance.items()},
        "warnings": list(hm.warnings),
    }


def run(args) -> int:
    from ..io import read_heightmap
    from ..io.atomic import finite_or_none

    d = describe(read_heightmap(args.heightmap))
    if args.json:
        print(json.dumps(finite_or_none(d), indent=2, allow_nan=False))
        return 0
    sources = d["sources"]
    print(f"file          {d['file']}")
    print(f"grid          {d['grid'][0]} x {d['grid'][1]} points (x by y)")
    print(f"spacing       dx = {d['spacing_um'][0]:.4g} um, dy = {d['spacing_um'][1]:.4g} um"
          + (f"   from {sources['spacing']}" if "spacing" in sources else ""))
    print(f"size          {d['size_mm'][0]:.4g} mm x {d['size_mm'][1]:.4g} mm")
    print(f"heights       {d['height_min_um']:.4g} .. {d['height_max_um']:.4g} um "
          f"(range {d['height_range_um']:.4g} um, rms {d['height_rms_um']:.4g} um)"
          + (f"   from {sources['heights']}" if "heights" in sources else ""))
    print(f"missing       {100 * d['missing_fraction']:.2f} %")
    if d["has_truth"]:
        print("ground truth  defect mask present")
    return 0

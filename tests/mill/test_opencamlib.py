"""The simulation against an independent library, OpenCAMLib (the drop-cutter algorithm).

A known surface S made of triangles (a roof: two planes of slope 0.04 meeting at a ridge
x = 0.5 mm, both rising 0.02 along y) is given to OpenCAMLib. Its BatchDropCutter lowers
each cutter onto S at the points of a raster (20 um apart along and across the rows): the
cutter-location (CL) points where the tool touches S and does not gouge it. That raster of
CL points is written as a G-code program, and `scratchlight mill` cuts it into flat stock.
Where the rows are dense enough to leave no scallops above 0.02 um, the simulated surface
must be S itself: a wrong tool shape, tip offset, sweep or unit makes it differ. The two
computations share nothing: OpenCAMLib finds contacts of the cutter with triangles, the
simulation the lower envelope of the cutter swept along the path.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from scratchlight.mill.motion import run_program
from scratchlight.mill.simulate import Stock, grid_window, simulate
from scratchlight.mill.tools import parse_tool

ocl = pytest.importorskip("opencamlib", reason="OpenCAMLib (opencamlib) does not import")

MM, UM = 1e-3, 1e-6
RIDGE_X, SLOPE_X, SLOPE_Y, BASE = 0.5, 0.04, 0.02, -0.05      # millimetres
STEP = 0.02                                                    # CL raster, mm
REGION = (0.0, 1.0, 0.0, 0.4)                                  # compared window, mm


def _roof(x, y):
    """S(x, y) in mm (x, y in mm)."""
    return BASE + SLOPE_Y * y - SLOPE_X * np.abs(x - RIDGE_X)


def _stl():
    surf = ocl.STLSurf()
    p = lambda x, y: ocl.Point(x, y, float(_roof(x, y)))  # noqa: E731
    for x0, x1 in ((-4.0, RIDGE_X), (RIDGE_X, 5.0)):
        surf.addTriangle(ocl.Triangle(p(x0, -4), p(x1, -4), p(x1, 5)))
        surf.addTriangle(ocl.Triangle(p(x0, -4), p(x1, 5), p(x0, 5)))
    return surf


def _cl_program(cutter, margin):
    """G-code through the CL points of a raster covering the window +- ``margin`` mm."""
    xs = np.round(np.arange(REGION[0] - margin, REGION[1] + margin + 1e-9, STEP), 6)
    ys = np.round(np.arange(REGION[2] - margin, REGION[3] + margin + 1e-9, STEP), 6)
    bdc = ocl.BatchDropCutter()
    bdc.setSTL(_stl())
    bdc.setCutter(cutter)
    for k, y in enumerate(ys):
        for x in (xs if k % 2 == 0 else xs[::-1]):
            bdc.appendPoint(ocl.CLPoint(float(x), float(y), -10.0))
    bdc.run()
    cl = [(p.x, p.y, p.z) for p in bdc.getCLPoints()]
    assert len(cl) == len(xs) * len(ys)
    lines = ["G21 G90 G17", f"G0 X{cl[0][0]:.6f} Y{cl[0][1]:.6f} Z1", "F500"]
    lines += [f"G1 X{x:.6f} Y{y:.6f} Z{z:.7f}" for x, y, z in cl]
    return "\n".join(lines)


@pytest.mark.slow
@pytest.mark.parametrize("spec,cutter,margin,rows_only", [
    ("ball:d=6mm", lambda: ocl.BallCutter(6.0, 20.0), 0.3, False),
    ("flat:d=2mm", lambda: ocl.CylCutter(2.0, 20.0), 1.1, False),
    ("bull:d=2mm,r=0.5mm", lambda: ocl.BullCutter(2.0, 0.5, 20.0), 1.1, False),
    # a V cutter touches these planes with its tip: it reproduces S on its rows only
    ("v:angle=90deg,d=1mm", lambda: ocl.ConeCutter(1.0, math.radians(45), 20.0), 0.1, True),
])
def test_cut_of_opencamlib_drop_cutter_path_is_the_surface(spec, cutter, margin, rows_only):
    program = _cl_program(cutter(), margin)
    h = 10 * UM
    # cell centres on multiples of 10 um: the stock starts half a cell before the window
    stock = Stock(-2 * MM - h / 2, 2 * MM - h / 2, -2 * MM - h / 2, 2 * MM - h / 2, 0.0)
    window = grid_window(stock, h, (REGION[0] * MM - h / 2, REGION[1] * MM - h / 2,
                                    REGION[2] * MM - h / 2, REGION[3] * MM - h / 2))
    res = simulate(run_program(program), stock, window, parse_tool(spec), envelope=True,
                   progress=False)
    x, y = window.axes()
    X, Y = np.meshgrid(x / MM, y / MM)
    expected = _roof(X, Y) * MM
    z = res.heightmap.heights
    if rows_only:                            # the grid rows that are CL rows (every second)
        rows = np.abs(y / (STEP * MM) - np.round(y / (STEP * MM))) < 1e-6
        z, expected = z[rows], expected[rows]
    error = z - expected
    assert np.abs(error).max() <= 0.1 * UM, (error.min(), error.max())

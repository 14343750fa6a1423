"""``scratchlight mill`` through the real command line: the .npz other commands read, its
record of program, tools and stock, the replay of OUT.run.json, and one-line refusals."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

PROGRAM = """%
(two tools: a flat end mill faces, a ball-end mill finishes)
N10 G21 G90 G17 G94
N20 T2 M6
N30 S8000 M3
N40 G0 X-3 Y0.5 Z1
N50 G1 Z-0.02 F800
N60 G1 X4
N70 G0 Z1
N80 T1 M6
N90 S12000 M3
N100 G0 X-1 Y0.2 Z1
N110 G1 Z-0.05 F600
N120 G1 X2
N130 G3 X2 Y0.8 R0.3
N140 G1 X-1
N150 M30
%
"""
TABLE = "T1 ball:d=2mm,teeth=2\nT2 flat:d=4mm,teeth=3,runout=1um\n"


def _run(args, cwd):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "scratchlight.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
def test_mill_writes_a_height_map_every_command_reads(tmp_path):
    (tmp_path / "part.nc").write_text(PROGRAM)
    (tmp_path / "tools.txt").write_text(TABLE)
    args = ["mill", "part.nc", "--tool-table", "tools.txt", "--stock", "0:1,0:1,0",
            "--spacing", "5", "--out", "part.npz"]
    proc = _run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "wrote part.npz (200 x 200 points at 5 um" in proc.stdout
    with np.load(tmp_path / "part.npz", allow_pickle=False) as z:
        heights, dx = z["heights"], float(z["dx"])
        record = json.loads(str(z["mill"]))
    assert heights.shape == (200, 200) and dx == pytest.approx(5e-6)
    # the facing pass (4 mm flat over the whole 1 mm stock) leaves -20 um, the ball-end
    # pass cuts to -50 um (grid points up to 2.5 um beside its path: 3 nm higher)
    assert heights.min() == pytest.approx(-50e-6, abs=5e-9)
    assert heights.max() == pytest.approx(-20e-6, abs=1e-12)
    assert record["tools_used"] == ["T1", "T2"]
    assert record["tool_table"]["T2"]["kind"] == "flat"
    assert record["stock_m"] == {"x": [0.0, 0.001], "y": [0.0, 0.001], "top": 0.0}
    assert len(record["program_sha256"]) == 64 and record["arcs"] == 1
    # another command takes it as it takes synth's output
    proc = _run(["info", "part.npz"], tmp_path)
    assert proc.returncode == 0 and "200 x 200 points" in proc.stdout, proc.stderr
    proc = _run(["scratchmap", "part.npz", "--out", "map.png"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # the saved config repeats the run exactly
    proc = _run(["mill", "--config", "part.run.json", "--out", "again.npz"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    with np.load(tmp_path / "again.npz") as z:
        np.testing.assert_array_equal(z["heights"], heights)


@pytest.mark.slow
@pytest.mark.parametrize("line,message", [
    ("G81 X0 Y0 Z-1 R1", "part.nc: line 3: G81: canned cycles are not supported"),
    ("G2 X1 Y0 I0.3 J0", "part.nc: line 3: G2: the radius is 0.3 mm at the start and 0.7 mm "
                         "at the end: they differ by 400 um, more than the tolerance 5 um"),
    ("T5 M6", "part.nc: line 4: T5: the program changes tools; give a tool table"),
])
def test_refusals_are_one_line_and_write_nothing(tmp_path, line, message):
    body = f"G0 X0 Y0 Z1\nG1 Z-0.1 F100 T1 M6\n{line}\nG1 X0.5 Y0.5\n"
    (tmp_path / "part.nc").write_text(body)
    proc = _run(["mill", "part.nc", "--tool", "ball:d=1mm", "--stock", "0:1,0:1,0",
                 "--spacing", "10um", "--out", "out.npz"], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part.nc"]

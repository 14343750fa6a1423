"""Batch rows whose height map is generated from machining parameters (``synth.*``,
``mill.*``, ``gcode.*``; ``batch.surfaces``): the plan's dotted keys, one-line refusals of
misspelt names, one generation per distinct surface (the cache), the surface equal to what
``synthesize`` gives for those parameters, and the study end to end: d' in the summary
against the swept feed, a milled surface's scallops from a swept program parameter."""
import csv
import json
import os

import numpy as np
import pytest

from scratchlight.batch import load_plan
from scratchlight.batch.surfaces import prepare_surfaces
from scratchlight.cli import main
from scratchlight.errors import InputError
from scratchlight.surface.synthetic import synthesize

FEED_PLAN = """
[defaults]
synth.kind = "face-mill"
synth.size = 48
synth.scratches = 1
synth.seed = 1
resolution = 48
iterations = 3
spp = 4
final_spp = 8
envmap_size = "8x16"
[sweep]
synth.feed = [100, 200]
"""


def test_dotted_keys_of_toml_and_csv_plans_are_generator_options(tmp_path):
    (tmp_path / "plan.toml").write_text(FEED_PLAN + "[report]\nx = \"synth.feed\"\n")
    plan = load_plan(tmp_path / "plan.toml")
    assert [r["synth.feed"] for r in plan.rows] == [100, 200]
    assert plan.swept == ["synth.feed"] and plan.report["x"] == "synth.feed"
    assert all(r["synth.kind"] == "face-mill" and "heightmap" not in r for r in plan.rows)
    (tmp_path / "plan.csv").write_text("synth.feed,synth.size,lam\n80,32,10\n120,32,10\n")
    assert [r["synth.feed"] for r in load_plan(tmp_path / "plan.csv").rows] == [80, 120]


@pytest.mark.parametrize("text, where, near", [
    ("[sweep]\nsynth.fed = [1, 2]\n", "sweep.synth.fed", "synth.feed"),
    ("[defaults]\nsynth = { stepovr = 100 }\n", "defaults.synth.stepovr", "synth.stepover"),
    ("[defaults]\nmill.tol = \"ball:d=2mm\"\n", "defaults.mill.tol", "mill.tool"),
    ("[defaults]\nsynth_feed = 100\n", "defaults.synth_feed", "synth.feed"),
])
def test_a_misspelt_generator_name_is_one_line_with_the_closest(tmp_path, text, where, near):
    (tmp_path / "plan.toml").write_text(text)
    with pytest.raises(InputError) as e:
        load_plan(tmp_path / "plan.toml")
    assert e.value.problem == f"{where}: unknown option; did you mean {near!r}?"


def test_misspelt_name_on_the_command_line_exits_2_with_one_line(tmp_path, capsys):
    (tmp_path / "plan.toml").write_text("[sweep]\nsynth.fed = [1, 2]\n")
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "synth.fed: unknown option; did you mean 'synth.feed'?" in err[0]
    assert main(["batch", str(tmp_path / "plan.toml"), "--plot-x", "synth.fed",
                 "--out", str(tmp_path / "out")]) == 2
    assert "did you mean 'synth.feed'?" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_surfaces_are_the_synthesized_ones_generated_once(tmp_path):
    cache = str(tmp_path / "cache")
    rows = [{"synth.size": 32, "synth.seed": 2, "synth.scratches": 1, "synth.feed": 150,
             "synth.runout": 1, "lam": lam} for lam in (10, 30)]
    first = prepare_surfaces(rows, str(tmp_path), cache)
    assert first.errors == [None, None] and (first.generated, first.reused) == (2, 0)
    a, b = first.options
    assert a["heightmap"] == b["heightmap"] and a["twin"] == b["twin"]
    assert first.injected == [("heightmap", "twin")] * 2
    assert sorted(os.listdir(os.path.join(cache, "surfaces"))) == sorted(
        os.path.basename(p) for p in (a["heightmap"], a["twin"]))
    # micrometres in the plan, as synth's flags: feed 150 um, runout 1 um
    ref = synthesize("face-mill", size=32, seed=2, scratches=1, feed=150e-6, runout=1e-6)
    twin = synthesize("face-mill", size=32, seed=2, scratches=0, feed=150e-6, runout=1e-6)
    with np.load(a["heightmap"]) as z:
        np.testing.assert_array_equal(z["heights"], ref.heights)
        np.testing.assert_array_equal(z["truth"], ref.truth)
        assert json.loads(str(z["synth"]))["feed"] == pytest.approx(150e-6)
    with np.load(a["twin"]) as z:
        np.testing.assert_array_equal(z["heights"], twin.heights)
    stamp = os.stat(a["heightmap"]).st_mtime_ns
    again = prepare_surfaces(rows[:1], str(tmp_path), cache)
    assert (again.generated, again.reused) == (0, 2)
    assert again.options[0]["heightmap"] == a["heightmap"]
    assert os.stat(a["heightmap"]).st_mtime_ns == stamp
    # a render row takes no twin; a bad value or another kind's parameter fails its row only
    bad = prepare_surfaces([{"synth.size": 32, "command": "render"},
                            {"synth.size": 32, "synth.feed": 0},
                            {"synth.size": 32, "synth.stepover": 100},
                            {"synth.size": 32, "heightmap": "x.npz"}], str(tmp_path), cache)
    assert bad.injected[0] == ("heightmap",) and bad.errors[0] is None
    assert bad.errors[1] == "synth.feed: must be a positive number, got 0.0"
    assert bad.errors[2].startswith("synth.stepover: not a parameter of kind 'face-mill'")
    assert bad.errors[3].startswith("heightmap: this row generates its height map")


@pytest.mark.slow  # two optimize rows (Mitsuba), about 20 s under load
def test_a_feed_sweep_gives_dprime_against_the_feed(tmp_path, monkeypatch):
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "plan.toml").write_text(FEED_PLAN)
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 0
    out = tmp_path / "out"
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["synth.feed"] for r in rows] == ["100", "200"]
    assert "heightmap" not in rows[0] and "twin" not in rows[0]
    for r in rows:
        assert float(r["dprime"]) > 0 and float(r["feed_mark_gradient"]) > 0
        assert float(r["scratch_gradient"]) > 0
    batch = json.loads((out / "batch.json").read_text())
    assert batch["plot"] == {"metric": "dprime", "x": "synth.feed"}
    assert batch["marks_plot"]["x"] == "synth.feed" and (out / "plot_marks.png").is_file()
    assert batch["surfaces"] == {"generated": 4, "reused": 0}
    # the row's run.json names the generated files: it replays as it is
    run = json.loads((out / rows[1]["name"] / "run.json").read_text())
    surfaces = str(tmp_path / "cache" / "surfaces")
    assert os.path.dirname(run["config"]["surface"]["path"]) == surfaces
    assert os.path.dirname(run["config"]["twin"]) == surfaces
    assert 'src="plot_marks.png"' in (out / "index.html").read_text()


RASTER = """%
(ball-end raster along x, stepover #<step> mm, incremental)
G21 G90 G17 G94
S#<rpm> M3
G0 X-1.5 Y-0.0975 Z1
G1 Z-0.05 F600
G91
G1 X3
G1 Y#<step>
G1 X-3
G1 Y#<step>
G1 X3
G1 Y#<step>
G1 X-3
G1 Y#<step>
G1 X3
G90 G0 Z1
M30
%
"""


@pytest.mark.slow  # compiles the mill kernel and renders two rows
def test_a_mill_sweep_of_a_program_parameter(tmp_path, monkeypatch):
    """gcode.step sweeps the raster's stepover: each row's surface has the ball's scallop
    R - sqrt(R^2 - (ae/2)^2) (1.2508 um at 0.1 mm, 5.0126 um at 0.2 mm; R = 1 mm), the
    grid (5 um, first point 2.5 um in) placed on the passes' centres and cusps."""
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "raster.nc").write_text(RASTER)
    (tmp_path / "plan.toml").write_text(
        '[defaults]\ncommand = "render"\nconstant = 0.5\nresolution = 32\nspp = 4\n'
        'mill.program = "raster.nc"\nmill.tool = "ball:d=2mm"\n'
        'mill.stock = "0:0.2,0:0.2,0"\nmill.spacing = "5um"\nmill.envelope = true\n'
        'gcode.rpm = 12000\n[sweep]\ngcode.step = [0.1, 0.2]\n')
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 0
    batch = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert batch["plot"]["x"] == "gcode.step"
    R = 1e-3
    for row, ae in zip(batch["rows"], (0.1e-3, 0.2e-3)):
        assert row["status"] == "ok" and row["options"]["gcode.step"] == ae * 1e3
        cfg = json.loads((tmp_path / "out" / row["name"] / "render.run.json").read_text())
        with np.load(cfg["config"]["surface"]["path"]) as z:
            heights = z["heights"]
            program = json.loads(str(z["mill"]))["program"]
        assert program.endswith(".nc") and "Y#" not in open(program).read()
        scallop = R - np.sqrt(R * R - (ae / 2) ** 2)
        assert np.ptp(heights) == pytest.approx(scallop, rel=2e-3)
    # defects.* plant synth's scratches (same seed, same paths) into the milled surface,
    # whose plain file is then the twin
    row = {"mill.program": "raster.nc", "mill.tool": "ball:d=2mm", "mill.envelope": True,
           "mill.stock": "0:0.2,0:0.2,0", "mill.spacing": "5um", "gcode.rpm": 12000,
           "gcode.step": 0.1, "defects.scratches": 1, "defects.scratch_depth": 3,
           "defects.seed": 4}
    got = prepare_surfaces([row], str(tmp_path), str(tmp_path / "cache"))
    assert got.errors == [None] and got.injected == [("heightmap", "twin")]
    assert (got.generated, got.reused) == (1, 1)  # the milled surface came from the batch
    with np.load(got.options[0]["heightmap"]) as z, np.load(got.options[0]["twin"]) as t:
        cut, truth, milled = z["heights"], z["truth"], t["heights"]
    scratched = synthesize("turning", size=40, seed=4, scratches=1, scratch_depth=3e-6,
                           roughness=0.0, spacing=5e-6)
    plain = synthesize("turning", size=40, seed=4, roughness=0.0, spacing=5e-6)
    np.testing.assert_allclose(cut - milled, scratched.heights - plain.heights, atol=1e-15)
    np.testing.assert_array_equal(truth, scratched.truth)
    assert truth.any()
    # a parameter the program does not use fails the rows, naming it
    (tmp_path / "plan.toml").write_text(
        (tmp_path / "plan.toml").read_text().replace("gcode.rpm", "gcode.rmp"))
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(tmp_path / "bad"),
                 "--workers", "1", "--quiet"]) == 1
    rows = json.loads((tmp_path / "bad" / "batch.json").read_text())["rows"]
    assert all("#<rpm>: no value given (set gcode.rpm" in r["error"] for r in rows)

"""Batch plans (issue 14, part 1): TOML and CSV, sweeps, shared-light mode, row configs and
names, and what a bad plan or a bad row does. Nothing here renders."""
import os

import pytest

from scratchlight.batch import load_plan
from scratchlight.batch.options import config_for
from scratchlight.batch.rows import make_rows, row_names
from scratchlight.cli import main
from scratchlight.errors import InputError


@pytest.fixture
def parts(tmp_path):
    (tmp_path / "parts").mkdir()
    for name in ("fm-1.npz", "fm-2.npz", "turn.npz"):
        (tmp_path / "parts" / name).write_bytes(b"x")
    (tmp_path / "studio.exr").write_bytes(b"x")
    return tmp_path


def _write(path, text):
    path.write_text(text)
    return path


def test_toml_defaults_sweeps_and_rows(parts):
    plan = load_plan(_write(parts / "plan.toml", """
[defaults]
resolution = 64
lam = 30
[sweep]
heightmap = ["parts/fm-*.npz"]
lam = [10, 30]
[[rows]]
material = "steel"
[[rows]]
heightmap = "parts/turn.npz"
command = "render"
constant = 0.5
sweep = { roughness = [0.02, 0.1] }
[report]
metric = "loss_after"
x = "lam"
"""))
    assert plan.mode == "per-part" and plan.report == {"metric": "loss_after", "x": "lam"}
    maps = [os.path.basename(r["heightmap"]) for r in plan.rows]
    # row 1: 2 maps x 2 lams (the sweep beats the defaults); row 2: its own map (it beats
    # the plan's sweep) x 2 roughnesses; render takes no lam, so the swept lam is left out
    # of it (the defaults' lam stays, make_rows drops it)
    assert maps == ["fm-1.npz"] * 2 + ["fm-2.npz"] * 2 + ["turn.npz"] * 2
    assert [r["lam"] for r in plan.rows[:4]] == [10, 30, 10, 30]
    assert all(r["material"] == "steel" and r["resolution"] == 64 for r in plan.rows[:4])
    assert {(r["lam"], r["roughness"]) for r in plan.rows[4:]} == {(30, 0.02), (30, 0.1)}
    assert plan.swept == ["heightmap", "lam", "roughness"]
    assert all(os.path.isabs(r["heightmap"]) for r in plan.rows)
    names = row_names(plan.rows)
    assert len(set(names)) == len(names)
    # the map's stem, the command, then the options that differ between those rows
    assert names[0] == "fm-1_optimize_lam=10" and names[4] == "turn_render_roughness=0.02"


def test_csv_rows_and_typed_cells(parts):
    plan = load_plan(_write(parts / "plan.csv", """heightmap,command,resolution,lam,color,name
# a comment line
parts/fm-1.npz,,48x32,10,,first
parts/fm-2.npz,render,64,,rgb,
"""))
    assert len(plan.rows) == 2
    first, second = plan.rows
    assert first == {"heightmap": str(parts / "parts" / "fm-1.npz"), "resolution": "48x32",
                     "lam": 10, "name": "first"}
    assert second["command"] == "render" and second["resolution"] == 64
    cfg = config_for("optimize", first, plan.base_dir)
    assert (cfg.scene.width, cfg.scene.height) == (48, 32) and cfg.light.lam == 10.0
    assert row_names(plan.rows)[0] == "first"


def test_shared_light_plans(parts):
    plan = load_plan(_write(parts / "shared.toml", """
mode = "shared-light"
light = "studio.exr"
[sweep]
heightmap = "parts/*.npz"
"""))
    assert plan.light == str(parts / "studio.exr") and len(plan.rows) == 3
    ref = load_plan(_write(parts / "ref.toml", """
mode = "shared-light"
[defaults]
resolution = 32
[reference]
heightmap = "parts/fm-1.npz"
iterations = 5
[[rows]]
heightmap = "parts/turn.npz"
"""))
    assert ref.reference == {"resolution": 32, "heightmap": str(parts / "parts" / "fm-1.npz"),
                             "iterations": 5, "command": "optimize"}


def test_row_configs_match_the_command_line_and_bad_rows_only_fail_themselves(parts):
    rows = make_rows([
        {"heightmap": "parts/fm-1.npz", "resolution": 32, "iterations": 3, "lam": 10},
        {"heightmap": "parts/fm-1.npz", "lam": -1},               # bad value
        {"heightmap": "parts/fm-1.npz", "colour": "gray"},        # bad name
        {"heightmap": "parts/fm-1.npz", "resolution": "big"},     # bad text
        {"heightmap": "parts/fm-1.npz", "command": "evaluate", "envmap": "studio.exr",
         "seeds": 2},
        {"heightmap": "parts/fm-1.npz", "command": "relight"},    # no light
        {"heightmap": "parts/fm-1.npz", "command": "paint"},
    ], str(parts), defaults={"seed": 5})
    good, *bad, ev, relight, paint = rows
    assert good.error is None and good.config["optimizer"]["iterations"] == 3
    assert good.config["seed"] == 5 and good.config["surface"]["path"] == str(parts / "parts/fm-1.npz")
    assert [r.error for r in bad] == ["lam: must be a finite number >= 0, got -1.0",
                                      "colour: not an option of optimize; did you mean 'color'?",
                                      "resolution: expected an integer, got 'big'"]
    assert ev.error is None and ev.config["seeds"] == 2
    assert ev.config["light"]["envmap"] == str(parts / "studio.exr")
    assert relight.error.startswith("envmap:") and paint.error.startswith("command:")
    # an option of the plan's [defaults] that a command does not take is left out of its
    # rows; set on the row itself, it fails the row
    mixed = make_rows([{"heightmap": "parts/fm-1.npz", "command": "render", "constant": 1,
                        "iterations": 3},
                       {"heightmap": "parts/fm-1.npz", "command": "render", "constant": 1,
                        "iterations": 4}], str(parts), plan_defaults={"iterations": 3})
    assert mixed[0].error is None and "iterations" not in mixed[0].options
    assert mixed[1].error == "iterations: not an option of render"
    # the key follows the config and the input file's bytes
    again = make_rows([{"heightmap": "parts/fm-1.npz", "resolution": 32, "iterations": 3,
                        "lam": 10}], str(parts), defaults={"seed": 5})[0]
    assert again.key == good.key
    (parts / "parts" / "fm-1.npz").write_bytes(b"changed")
    changed = make_rows([{"heightmap": "parts/fm-1.npz", "resolution": 32, "iterations": 3,
                          "lam": 10}], str(parts), defaults={"seed": 5})[0]
    assert changed.key != good.key


@pytest.mark.parametrize("text, problem", [
    ("[defaults\nlam = 1", "not valid TOML"),
    ("lam = 3", "unknown plan key 'lam'"),
    ("mode = 'both'\n[[rows]]\nheightmap = 'a.npz'", "mode must be"),
    ("[sweep]\nlam = 3\n[[rows]]\nheightmap = 'a.npz'", "sweep.lam: expected a non-empty list"),
    ("[sweep]\nheightmap = 'nothing/*.npz'", "matches no file"),
    ("mode = 'shared-light'\n[[rows]]\nheightmap = 'a.npz'", "needs either light"),
    ("light = 'studio.exr'\n[[rows]]\nheightmap = 'a.npz'", "need mode"),
    ("[[rows]]\nheightmap = 'a.npz'\nname = 'x'\n[[rows]]\nheightmap = 'b.npz'\nname = 'x'",
     "two rows are named 'x'"),
])
def test_a_bad_plan_is_one_line_exit_2_and_nothing_written(parts, capsys, text, problem):
    plan = _write(parts / "bad.toml", text)
    out = parts / "out"
    assert main(["batch", str(plan), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"scratchlight: error: {plan}: ")
    assert problem in err[0]
    assert not out.exists()


def test_bad_csv_plans(parts):
    for text, problem in [("lam,spp\n1,2\n", "needs a heightmap column"),
                          ("heightmap,lam,lam\na,1,2\n", "appears twice"),
                          ("heightmap\n", "no rows"),
                          ("heightmap,lam\na,1,2\n", "row 2 has 3 cells")]:
        with pytest.raises(InputError) as e:
            load_plan(_write(parts / "bad.csv", text))
        assert problem in e.value.problem
    with pytest.raises(InputError, match="a .toml or .csv"):
        load_plan(parts / "plan.yaml")

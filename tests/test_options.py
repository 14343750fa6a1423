"""One source for every option: the config fields' declarations make the flags, the batch
keys, the studio's form and the ``--config`` checks; a misspelt name anywhere is one line
naming the closest valid name, exit code 2, nothing written."""
from __future__ import annotations

import dataclasses
import json
import os
import typing

import pytest

from scratchlight.cli import build_parser, main
from scratchlight.errors import InputError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


# ------------------------------------------------------------------------------ flags
def test_a_misspelt_flag_is_one_line_naming_the_closest_flag(tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as e:
        main(["optimize", str(tmp_path / "a.npz"), "--out", str(out), "--lamda", "3"])
    assert e.value.code == 2
    assert _one_line(capsys) == ("scratchlight: error: unrecognized option --lamda "
                                 "(did you mean --lam?)")
    assert not out.exists()


def test_flags_of_each_command_are_unchanged():
    """The flags each command offered before they were derived from the declarations."""
    before = {
        "optimize": "azimuth camera camera-origin camera-target color config crop device "
                    "elevation engine envmap-size exaggeration final-precision "
                    "final-sampler final-spp fov held-out init "
                    "iterations l2-target lam lr mask material max-depth max-size "
                    "memory-budget no-level objective out over over-target quiet resolution "
                    "roughness scratch-kernel scratch-patch "
                    "scratch-threshold seed shot-power shot-tiles shots spp transport-noise "
                    "transport-warmup twin",
        "render": "azimuth camera camera-origin camera-target config constant crop device "
                  "elevation envmap exaggeration exr fov material max-depth max-size no-level "
                  "out resolution roughness seed spp",
        "relight": "azimuth cache-dir camera camera-origin camera-target config crop device "
                   "elevation engine envmap exaggeration exr fov material max-depth max-size "
                   "memory-budget no-cache no-level out repeat resolution roughness seed spp",
        "evaluate": "azimuth camera camera-origin camera-target config constant crop device "
                    "elevation envmap exaggeration fov guard image material max-depth max-size "
                    "no-level out pixel-pitch resolution roughness seed seeds spp truth "
                    "truth-from-file twin viewing-distance weber-threshold window",
        "lamps": "azimuth camera camera-origin camera-target config count crop device dome "
                 "elevation exaggeration final-spp fov iterations kind l2-target lam lr mask "
                 "material max-count max-depth max-diameter max-size min-diameter "
                 "min-elevation no-level out quiet resolution roughness seed seeds spp "
                 "threshold",
        "fit": "budget camera color config cost-aware crop device envmap-size exaggeration "
               "final-spp fov init iterations loss lr lr-roughness material max-depth max-size "
               "no-level out params quiet refresh refresh-pairs refresh-spp roughness sampling "
               "seed spp target truth-envmap truth-roughness",
    }
    before["batch"] = ("cache-dir device fresh gpus-per-row out plot-metric plot-x quiet ray "
                       "retries retry-failed seed wait workers")
    before["demo"] = "device engine iterations out resolution seed size"
    before["studio"] = ("data device host max-light-pixels max-matrices max-points "
                        "max-sessions max-size max-upload-mb open out port resolution "
                        "upload-quota-mb")
    positionals = {"lamps": ["light", "heightmap"], "batch": ["plan"], "demo": []}
    sub = next(a for a in build_parser()._actions if isinstance(a.choices, dict))
    for command, flags in before.items():
        p = sub.choices[command]
        have = {s[2:] for a in p._actions for s in a.option_strings if s.startswith("--")}
        assert have == set(flags.split()) | {"help"}, command
        assert [a.dest for a in p._actions if not a.option_strings] == \
            positionals.get(command, ["heightmap"])


def test_every_option_is_declared_with_help_a_default_and_bounds():
    from scratchlight.cli.common import command_configs
    from scratchlight.options import _base, option_table

    for cls in command_configs():
        for name, e in option_table(cls).items():
            assert e.opt.help.strip(), (cls.__name__, name)
            field = _field(cls, e.field)
            assert field.default is not dataclasses.MISSING or \
                field.default_factory is not dataclasses.MISSING, (cls.__name__, name)
            if _base(e.type) in (int, float) and e.opt.parse is None:
                assert e.opt.lo is not None or e.opt.hi is not None, (cls.__name__, name)
            if e.opt.choices is not None and e.default is not None:
                assert e.default in e.opt.choices, (cls.__name__, name)
    # every derived flag of a command is a declared option of its config
    sub = next(a for a in build_parser()._actions if isinstance(a.choices, dict))
    own = {"help", "out", "config", "quiet", "exr", "image", "open"}
    for command, cls in zip(("optimize", "render", "relight", "evaluate", "lamps", "fit",
                             "batch", "studio"), command_configs(), strict=True):
        flags = {e.flag for e in option_table(cls).values()}
        for a in sub.choices[command]._actions:
            for s in a.option_strings:
                assert s in flags or s[2:] in own or s == "-h", (command, s)


def _field(cls, dotted: str) -> dataclasses.Field:
    for part in dotted.split(".")[:-1]:
        cls = _sub(cls, part)
    return next(f for f in dataclasses.fields(cls) if f.name == dotted.split(".")[-1])


def _sub(cls, name):
    hint = typing.get_type_hints(cls)[name]
    return next((a for a in (hint, *typing.get_args(hint)) if dataclasses.is_dataclass(a)))


def test_a_repeated_flag_of_several_values_adds_them():
    """``--light a --light b`` is two lights, as ``--light a b`` (argparse would keep the
    last flag's values alone, and one light would go missing without a word)."""
    from scratchlight.pod import PodConfig

    parser = build_parser()
    repeated = parser.parse_args(["pod", "--light", "studio", "--light", "uniform:1", "--out", "o"])
    together = parser.parse_args(["pod", "--light", "studio", "uniform:1", "--out", "o"])
    assert repeated.light == together.light == ["studio", "uniform:1"]
    assert parser.parse_args(["pod", "--out", "o"]).light is None  # not given: the default
    assert PodConfig().lights == ("uniform",)


def test_flags_build_the_same_config_as_a_batch_row(tmp_path):
    from scratchlight.batch.options import config_for
    from scratchlight.cli import cmd_evaluate, cmd_optimize, cmd_render
    from scratchlight.renders import EvaluateConfig

    hm = str(tmp_path / "a.npz")
    args = build_parser().parse_args([
        "optimize", hm, "--out", "x", "--lam", "3", "--resolution", "64x48", "--no-level",
        "--crop", "1,2,10,12", "--envmap-size", "10x20", "--memory-budget", "2",
        "--camera-target", "0,0.1,0", "--exaggeration", "auto"])
    from_flags = cmd_optimize.config_from_args(args)
    from_row = config_for("optimize", {"heightmap": "a.npz", "lam": 3, "resolution": "64x48",
                                       "no_level": True, "crop": [1, 2, 10, 12],
                                       "envmap_size": "10x20", "memory_budget_gib": 2,
                                       "camera_target": "0,0.1,0", "exaggeration": "auto"},
                          str(tmp_path))
    assert from_flags == from_row
    assert (from_flags.scene.width, from_flags.scene.height) == (64, 48)
    assert from_flags.surface.level is False and from_flags.optimizer.memory_budget_gib == 2.0
    # a flag in another unit than its field: --pixel-pitch in mm, pixel_pitch_m in metres
    args = build_parser().parse_args(["evaluate", hm, "--constant", "1", "--out", "m.json",
                                      "--pixel-pitch", "0.5"])
    cfg = cmd_render.config_from_args(args, EvaluateConfig, "evaluate", cmd_evaluate.OWN_OPTIONS)
    assert cfg.pixel_pitch_m == 0.5e-3


def test_errors_name_the_flag_or_option_of_a_field():
    from scratchlight.batch.options import option_for_field
    from scratchlight.cli.common import flag_for_field

    assert flag_for_field("light.lam") == "--lam"
    assert flag_for_field("scene.height") == "--resolution"
    assert flag_for_field("optimizer.memory_budget_gib") == "--memory-budget"
    assert flag_for_field("surface.level") == "--no-level"
    assert flag_for_field("pixel_pitch_m") == "--pixel-pitch"
    assert flag_for_field("cameras") == "--camera"
    assert flag_for_field("/some/file.npz") == "/some/file.npz"
    assert option_for_field("scene.height") == "resolution"
    assert option_for_field("scene.camera.fov_deg") == "fov"


def test_a_misspelt_library_option_names_the_closest():
    from scratchlight.optimize.config import OptimizeConfig
    from scratchlight.renders import RenderConfig

    with pytest.raises(InputError) as e:
        OptimizeConfig.from_options(heightmap="/a.npz", lamda=3)
    assert (e.value.path, e.value.problem) == ("lamda", "unknown option; did you mean 'lam'?")
    with pytest.raises(InputError) as e:
        RenderConfig.from_options(heightmap="/a.npz", constnt=3)
    assert "did you mean 'constant'?" in e.value.problem


# ------------------------------------------------------------------------------ --config
def test_a_misspelt_config_key_is_one_line_naming_the_closest(tmp_path, capsys):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"command": "optimize",
                               "config": {"optimizer": {"iteratons": 3}}}))
    out = tmp_path / "o"
    assert main(["optimize", "--config", str(bad), "--out", str(out)]) == 2
    line = _one_line(capsys)
    assert "optimizer.iteratons" in line and "did you mean 'iterations'?" in line
    assert not out.exists()


# ------------------------------------------------------------------------------ batch
@pytest.mark.parametrize("plan, named", [
    ("[defaults]\nlamda = 3\n[[rows]]\nheightmap = 'a.npz'\n", "defaults.lamda"),
    ("[sweep]\nlamda = [3, 30]\n[[rows]]\nheightmap = 'a.npz'\n", "sweep.lamda"),
    ("[[rows]]\nheightmap = 'a.npz'\nlamda = 3\n", "rows[0].lamda"),
    ("[[rows]]\nheightmap = 'a.npz'\nsweep = { lamda = [3, 30] }\n", "rows[0].sweep.lamda"),
    ("[reference]\nheightmap = 'a.npz'\nlamda = 3\n", "reference.lamda"),
    ("[[rows]]\nheightmap = 'a.npz'\n[report]\nx = 'lamda'\n", "report.x"),
])
def test_a_misspelt_plan_key_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, plan,
                                                                      named):
    (tmp_path / "plan.toml").write_text(plan)
    out = tmp_path / "out"
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), "--quiet"]) == 2
    line = _one_line(capsys)
    assert named in line and "lamda" in line and "did you mean 'lam'?" in line, line
    assert not out.exists()


def test_a_misspelt_report_key_metric_or_csv_column_is_refused(tmp_path, capsys):
    cases = [("plan.toml", "[[rows]]\nheightmap = 'a.npz'\n[report]\nmetrc = 'auc'\n",
              "did you mean 'metric'?"),
             ("plan.toml", "[[rows]]\nheightmap = 'a.npz'\n[report]\nmetric = 'lossafter'\n",
              "did you mean 'loss_after'?"),
             ("plan.csv", "heightmap,lamda\na.npz,3\n", "did you mean 'lam'?")]
    for name, text, hint in cases:
        (tmp_path / name).write_text(text)
        out = tmp_path / "out"
        assert main(["batch", str(tmp_path / name), "--out", str(out), "--quiet"]) == 2
        assert hint in _one_line(capsys)
        assert not out.exists()


@pytest.mark.parametrize("flag, value, hint", [("--plot-metric", "lossafter", "'loss_after'"),
                                               ("--plot-x", "lamda", "'lam'")])
def test_an_unknown_plot_option_touches_nothing(tmp_path, capsys, flag, value, hint):
    (tmp_path / "plan.toml").write_text("[[rows]]\nheightmap = 'a.npz'\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "plot.png").write_bytes(b"an earlier plot")
    assert main(["batch", str(tmp_path / "plan.toml"), "--out", str(out), flag, value]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"scratchlight: error: {flag}: ") and f"did you mean {hint}?" in line
    assert os.listdir(out) == ["plot.png"] and (out / "plot.png").read_bytes() == b"an earlier plot"


# ------------------------------------------------------------------------------ studio
def test_a_misspelt_studio_option_names_the_closest():
    pytest.importorskip("starlette")
    from scratchlight.studio.runs import parse_run_options
    from scratchlight.studio.workspace import ViewSettings

    with pytest.raises(InputError) as e:
        parse_run_options({"lamda": 3, "iterations": 4})
    assert (e.value.path, e.value.problem) == ("lamda", "unknown option; did you mean 'lam'?")
    with pytest.raises(InputError) as e:  # the camera message
        ViewSettings.from_json({"azimut": 30}, ViewSettings())
    assert (e.value.path, e.value.problem) == ("azimut",
                                               "unknown option; did you mean 'azimuth'?")


def test_studio_defaults_are_the_commands_or_say_why_not():
    pytest.importorskip("starlette")
    from scratchlight.optimize.config import OptimizeConfig
    from scratchlight.options import option_table
    from scratchlight.studio.runs import PAGE_OPTIONS, parse_run_options, run_option_form

    table, form, parsed = option_table(OptimizeConfig), run_option_form(), parse_run_options({})
    differ = []
    for name in PAGE_OPTIONS:
        e = table[name]
        assert parsed[name] == form[name]["default"]
        assert (form[name]["lo"], form[name]["hi"]) == (e.opt.lo, e.opt.hi)
        if form[name]["default"] != e.default:
            default, why = e.opt.studio            # declared on the field, with a reason
            assert default == form[name]["default"] and len(why) > 20
            assert why in form[name]["help"]
            differ.append(name)
    assert sorted(differ) == ["engine", "iterations"]
    # the Evaluate button's options: declared for the page, whose help says why they are
    # not evaluate's
    from scratchlight.renders import EvaluateConfig
    from scratchlight.studio.runs import evaluate_option_form, parse_evaluate_options

    form, table = evaluate_option_form(), option_table(EvaluateConfig)
    assert parse_evaluate_options({}) == {"spp": 64, "seeds": 2}
    for name in ("spp", "seeds"):
        assert form[name]["default"] != table[name].default
        assert f"evaluate's default is {table[name].default}" in form[name]["help"]
    with pytest.raises(InputError) as e:
        parse_evaluate_options({"sedes": 2})
    assert e.value.problem == "unknown option; did you mean 'seeds'?"

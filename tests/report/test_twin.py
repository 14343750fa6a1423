"""An optimization run with the defect-free twin of its synthetic surface judges its light by
the observers' d' too (run.json's ``detectability``), and refuses a twin it cannot use."""
import json

import pytest

from scratchlight.cli import main
from scratchlight.optimize import LightConfig, OptimizeConfig, OptimizerConfig
from scratchlight.scene import SceneSpec
from scratchlight.session import FINAL_RENDER_SEED, run_optimization
from scratchlight.surface import SurfaceConfig


@pytest.fixture(scope="module")
def part(tmp_path_factory):
    d = tmp_path_factory.mktemp("twin")
    main(["synth", "--kind", "face-mill", "--size", "48", "--scratches", "2", "--seed", "1",
          "--out", str(d / "part.npz"), "--twin", str(d / "twin.npz")])
    return d


def _cfg(part, twin, **light):
    return OptimizeConfig(surface=SurfaceConfig(str(part / "part.npz")),
                          scene=SceneSpec(width=48, height=48, exaggeration="auto"),
                          light=LightConfig(envmap_size=(8, 16), **light),
                          optimizer=OptimizerConfig(iterations=3, spp=4, final_spp=16), twin=twin)


@pytest.mark.slow
def test_optimize_with_a_twin_reports_dprime_of_the_optimized_light(part, tmp_path, capsys):
    doc = run_optimization(_cfg(part, str(part / "twin.npz")), tmp_path / "run", progress=False)
    detect = doc["detectability"]
    assert detect["seeds"] == [FINAL_RENDER_SEED, FINAL_RENDER_SEED + 1, FINAL_RENDER_SEED + 2]
    assert detect["npw"]["overall"] > 1 and detect["npw"]["stderr"] is not None
    assert detect["defects"] >= 1
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert saved["detectability"]["npw"]["overall"] == pytest.approx(detect["npw"]["overall"])
    assert saved["config"]["twin"] == str(part / "twin.npz") and saved["phases_s"]["judge_twin"] > 0
    # the command says it, and a run without a twin has no d'
    assert main(["optimize", str(part / "part.npz"), "--twin", str(part / "twin.npz"),
                 "--resolution", "48", "--envmap-size", "8x16", "--iterations", "2", "--spp", "4",
                 "--final-spp", "8", "--quiet", "--out", str(tmp_path / "cli")]) == 0
    assert "d' against the twin (display observer, 3 seeds)" in capsys.readouterr().out
    plain = run_optimization(_cfg(part, None), tmp_path / "plain", progress=False)
    assert "detectability" not in plain


def test_a_twin_it_cannot_use_is_one_line_error(part, tmp_path, feed_marks_npz, capsys):
    # a surface without its defects' mask (not written by synth)
    code = main(["optimize", str(feed_marks_npz), "--twin", str(part / "twin.npz"),
                 "--resolution", "32", "--envmap-size", "8x16", "--iterations", "1", "--spp", "2",
                 "--final-spp", "2", "--quiet", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--twin" in err[0] and "defect mask" in err[0], err
    # a twin of another grid
    main(["synth", "--size", "40", "--out", str(tmp_path / "small.npz")])
    code = main(["optimize", str(part / "part.npz"), "--twin", str(tmp_path / "small.npz"),
                 "--resolution", "32", "--envmap-size", "8x16", "--iterations", "1", "--spp", "2",
                 "--final-spp", "2", "--quiet", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "differs from the surface's" in err[0], err

"""Fitting light and roughness to images: losses, a tiny synthetic fit, the fit command."""
import json

import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.fit import FitConfig, image_loss


@pytest.mark.parametrize("name", ["l2", "rel-l2"])
def test_image_loss_gradient(name):
    rng = np.random.default_rng(0)
    I, T = rng.random((5, 3)), rng.random((5, 3))
    ell, g = image_loss(name, I, T, n_pixels=20)
    scale = 1.0 if name == "l2" else 1.0 / (T * T + 0.01)
    np.testing.assert_allclose(ell, np.sum(scale * (I - T) ** 2, axis=1) / 60)
    h = 1e-6
    for j, c in [(0, 0), (3, 2)]:
        Ip = I.copy()
        Ip[j, c] += h
        fd = (image_loss(name, Ip, T, 20)[0].sum() - ell.sum()) / h
        assert g[j, c] == pytest.approx(fd, rel=1e-4)


def test_config_validation():
    with pytest.raises(InputError, match="fit.params"):
        FitConfig(params=("envmap", "colour")).validate()
    with pytest.raises(InputError, match="fit.loss"):
        FitConfig(loss="l1").validate()
    with pytest.raises(InputError, match="fit.budget"):
        FitConfig(budget=0.0).validate()


def _truth_envmap(H=4, W=8):
    E = np.full((H, W, 1), 0.1, np.float32)
    E[1, ::2] = 0.9
    E[H // 2:] = 0.0
    return E


@pytest.fixture(scope="module")
def fit_scene():
    """Two low cameras over feed marks: they see the sky directly and in reflection."""
    import scratchlight as sl
    from scratchlight.engines.subset import SubsetRenderer
    from scratchlight.scene import CameraSpec

    from surface_helpers import feed_marks

    Et = _truth_envmap()
    hm = sl.prepare(feed_marks(33, 33))
    scenes = [sl.build_scene(hm, sl.SceneSpec(width=20, height=20, roughness=0.3,
                                              camera=CameraSpec(elevation_deg=15, fov_deg=40,
                                                                azimuth_deg=az)), envmap=Et)
              for az in (0.0, 180.0)]
    R = SubsetRenderer(scenes, spp=4, params=("envmap", "roughness"))
    target = R.render_views(Et, 0.15, seed=99, spp=128)
    return R, Et, target


@pytest.mark.parametrize("sampling", ["full", "adaptive"])
@pytest.mark.slow
def test_fit_reduces_parameter_error(fit_scene, sampling):
    from scratchlight.fit import Truth, fit_to_images, sensitivity_weights

    R, Et, target = fit_scene
    w = sensitivity_weights(R, Et, 0.15, spp=8)
    truth = Truth(envmap=Et, roughness=0.15, weights=w)
    E0 = np.full_like(Et, 0.5)
    cfg = FitConfig(sampling=sampling, budget=0.25, iterations=40, lr=0.03, spp=4, refresh=10)
    res = fit_to_images(R, target, E0, 0.3, cfg, truth=truth)
    h = res.history
    assert len(h["loss"]) == 40 and np.all(np.diff(h["time_s"]) > 0)
    assert h["envmap_rmse_weighted"][-1] < 0.6 * h["envmap_rmse_weighted"][0]
    assert np.mean(h["loss"][-5:]) < 0.3 * np.mean(h["loss"][:3])
    assert res.envmap.min() >= 0 and 0.01 <= res.roughness <= 1.0
    assert res.pixels_per_iteration == (800 if sampling == "full" else 200)


@pytest.mark.slow
def test_fit_command(tmp_path, fit_scene, feed_marks_npz):
    """End to end on files: targets written as EXR and PNG, outputs and run.json."""
    import scratchlight as sl
    from scratchlight.cli import main
    from scratchlight.engines.subset import SubsetRenderer
    from scratchlight.io import write_exr, write_png
    from scratchlight.scene import CameraSpec

    Et = _truth_envmap()
    hm = sl.prepare(sl.read_heightmap(str(feed_marks_npz)))
    scene = sl.build_scene(hm, sl.SceneSpec(width=16, height=12, roughness=0.2,
                                            camera=CameraSpec(elevation_deg=15, fov_deg=40)),
                           envmap=Et)
    target = SubsetRenderer(scene).render_views(Et, 0.2, seed=5, spp=64)[0]
    write_exr(tmp_path / "t.exr", target)
    write_png(tmp_path / "t.png", target)
    write_exr(tmp_path / "truth.exr", Et)
    out = tmp_path / "fit"
    rc = main(["fit", str(feed_marks_npz), "--target", str(tmp_path / "t.exr"), str(tmp_path / "t.png"),
               "--camera", "oblique:0:15", "--fov", "40", "--envmap-size", "4x8",
               "--iterations", "4", "--spp", "2", "--final-spp", "4", "--sampling", "adaptive",
               "--refresh-pairs", "1", "--refresh-spp", "1", "--budget", "0.5", "--truth-envmap", str(tmp_path / "truth.exr"),
               "--truth-roughness", "0.2", "--roughness", "0.3", "--out", str(out), "--quiet"])
    assert rc == 0
    for name in ("envmap.exr", "envmap.png", "fitted.png", "loss.png", "run.json"):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    fit = run["config"]["fit"]
    assert fit["sampling"] == "adaptive" and fit["budget"] == 0.5
    assert fit["refresh_pairs"] == 1 and fit["refresh_spp"] == 1
    assert len(run["history"]["loss"]) == 4 and len(run["history"]["time_s"]) == 4
    assert 0.01 <= run["result"]["roughness"] <= 1.0
    assert set(run["result"]["errors"]) == {"envmap_rmse", "envmap_rmse_weighted", "roughness_error"}
    assert sl.read_envmap(out / "envmap.exr").shape == (4, 8, 3)


@pytest.mark.slow
def test_fit_config_replays_the_run(tmp_path, feed_marks_npz, capsys):
    """fit --config DIR/run.json repeats a run (same seed, same device); a bad config file
    is one line on stderr and exit code 2."""
    import scratchlight as sl
    from scratchlight.cli import build_parser, main
    from scratchlight.cli.cmd_fit import config_from_args
    from scratchlight.io import write_png

    write_png(tmp_path / "t.png", np.full((12, 16, 3), 0.3, np.float32))
    first, again = tmp_path / "first", tmp_path / "again"
    rc = main(["fit", str(feed_marks_npz), "--target", str(tmp_path / "t.png"),
               "--envmap-size", "4x8", "--iterations", "3", "--spp", "2", "--final-spp", "2",
               "--refresh", "2", "--refresh-pairs", "1", "--refresh-spp", "1", "--budget", "0.5",
               "--out", str(first), "--quiet"])
    assert rc == 0
    saved = json.loads((first / "run.json").read_text())
    assert saved["command"] == "fit" and saved["config"]["fit"]["iterations"] == 3
    assert saved["config"]["surface"]["path"] == str(feed_marks_npz)
    assert saved["config"]["targets"] == [str(tmp_path / "t.png")]

    assert main(["fit", "--config", str(first / "run.json"), "--out", str(again), "--quiet"]) == 0
    replay = json.loads((again / "run.json").read_text())
    assert replay["config"] == saved["config"]
    assert replay["result"]["roughness"] == pytest.approx(saved["result"]["roughness"], abs=1e-6)
    np.testing.assert_allclose(sl.read_envmap(again / "envmap.exr"),
                               sl.read_envmap(first / "envmap.exr"), rtol=0, atol=1e-6)

    # --device overrides the saved device; nothing else is needed besides --out
    args = build_parser().parse_args(["fit", "--config", str(first / "run.json"),
                                      "--out", str(tmp_path / "x"), "--device", "cpu"])
    assert config_from_args(args).device == "cpu"

    saved["config"]["fit"]["bogus"] = 1
    (tmp_path / "bad.json").write_text(json.dumps(saved))
    capsys.readouterr()
    rc = main(["fit", "--config", str(tmp_path / "bad.json"), "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert "bad.json" in err and "fit.bogus" in err and "unknown config field" in err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("extra, option", [
    (["--budget", "0"], "--budget"),
    (["--sampling", "best"], "--sampling"),
    (["--params", "envmap,shape"], "--params"),
    (["--camera", "oblique", "top"], "--camera"),
    (["--camera", "sideways"], "--camera"),
    (["--loss", "l1"], "--loss"),
    (["--refresh-pairs", "0"], "--refresh-pairs"),
])
def test_fit_command_bad_options(tmp_path, feed_marks_npz, capsys, extra, option):
    from scratchlight.cli import main
    from scratchlight.io import write_png

    write_png(tmp_path / "t.png", np.full((12, 16, 3), 0.3, np.float32))
    out = tmp_path / "fit"
    rc = main(["fit", str(feed_marks_npz), "--target", str(tmp_path / "t.png"), "--out", str(out),
               "--quiet", *extra])
    assert rc == 2
    assert option in capsys.readouterr().err
    assert not out.exists()


def test_fit_command_missing_target(tmp_path, feed_marks_npz, capsys):
    from scratchlight.cli import main

    rc = main(["fit", str(feed_marks_npz), "--target", str(tmp_path / "nope.exr"),
               "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "nope.exr" in capsys.readouterr().err


@pytest.mark.parametrize("l2_target", ["env", "image", "none"])
def test_scratch_estimate_adds_the_objectives_l2_term(fit_scene, l2_target):
    """The subset estimate of the scratch objective adds the same L2 term as the full
    objective: with the same anchors and render, lam = 3 differs from lam = 0 by exactly
    that term (on E: the full objective's dL/dE; on the image: an estimate of the full
    render's L_l2)."""
    from scratchlight.engines.subset import SubsetRenderer
    from scratchlight.fit.scratch_estimator import scratch_sampler, subset_scratch_gradient
    from scratchlight.objectives import scratch_objective

    R2, E, _ = fit_scene
    R = SubsetRenderer(R2.scenes[0], spp=4)
    M = R.scenes[0].object_mask
    sampler = scratch_sampler("uniform", M, 0.5)

    def estimate(lam, draw):
        return subset_scratch_gradient(R, E, sampler, np.random.default_rng(draw), M, lam=lam,
                                       l2_target=l2_target, seed=7 + draw, roughness=0.3)

    image = R.render_views(E, 0.3, seed=1, spp=64)[0]
    full = scratch_objective(image, E, M, lam=3.0, l2_target=l2_target)
    a, b = estimate(0.0, 0), estimate(3.0, 0)
    assert a.l_grad == b.l_grad and a.l_l2 == b.l_l2
    assert b.loss - a.loss == pytest.approx(3.0 * b.l_l2)
    # two backward passes of one render agree to float32 rounding only: Mitsuba sums a
    # texel's contributions by atomic adds in whatever order the threads reach them
    tol = 1e-5 * np.abs(a.grad).max()
    if l2_target == "env":
        assert b.l_l2 == pytest.approx(full.l_l2)
        np.testing.assert_allclose(b.grad - a.grad, full.dL_dE, rtol=1e-6, atol=tol)
    elif l2_target == "none":
        assert b.l_l2 == 0.0
        np.testing.assert_allclose(b.grad, a.grad, rtol=0, atol=tol)
    else:
        mean = np.mean([estimate(3.0, draw).l_l2 for draw in range(8)])
        assert mean == pytest.approx(full.l_l2, rel=0.1)

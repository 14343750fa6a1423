"""Multi-shot lighting (issue 27): the smooth maximum over shots, its gradient, regions,
K = 1 as today's run, K = 2 on two perpendicular scratches, and the CLI's refusals."""
from __future__ import annotations

import json

import numpy as np
import pytest

from scratchlight.objectives import scratch_objective
from scratchlight.optimize.shots import (region_means, sequence_objective, shot_regions,
                                         shot_starts, smooth_max)


def test_smooth_max_is_the_p_norm_between_the_max_and_k_to_the_1_over_p_times_it():
    a = np.array([[0.2, 3.0], [0.5, 3.0], [0.1, 0.0]])  # (K = 3, R = 2)
    A, dA = smooth_max(a, 4.0)
    assert A == pytest.approx([(0.2 ** 4 + 0.5 ** 4 + 0.1 ** 4) ** 0.25, 3.0 * 2 ** 0.25])
    assert np.all(A >= a.max(0)) and np.all(A <= 3 ** 0.25 * a.max(0))
    # gradient against central differences, element by element
    h = 1e-6
    for k in range(3):
        for r in range(2):
            up, down = a.copy(), a.copy()
            up[k, r] += h
            down[k, r] -= h
            fd = (smooth_max(up, 4.0)[0][r] - smooth_max(down, 4.0)[0][r]) / (2 * h)
            assert dA[k, r] == pytest.approx(fd, rel=1e-6, abs=1e-9)
    # p = inf is the maximum, with a one-hot gradient; all zeros give 0 and no NaN
    A, dA = smooth_max(a, np.inf)
    assert A.tolist() == [0.5, 3.0] and dA[:, 0].tolist() == [0, 1, 0]
    A, dA = smooth_max(np.zeros((2, 3)), 8.0)
    assert A.tolist() == [0, 0, 0] and not np.isnan(dA).any()


def test_regions_are_components_cut_by_tiles():
    mask = np.zeros((12, 16), bool)
    mask[1:5, 1:15] = True      # one bar across the bounding box's width
    mask[8:11, 2:4] = True      # a small block in the lower left
    labels = shot_regions(mask, 1)
    assert labels.max() == 2 and set(np.unique(labels[mask])) == {1, 2}
    assert (labels[~mask] == 0).all()
    labels = shot_regions(mask, 2)  # the bar is cut in two halves of the box's width
    assert labels.max() == 3
    assert len(np.unique(labels[1:5, 1:15])) == 2
    with pytest.raises(ValueError):
        shot_regions(np.zeros((4, 4), bool))


@pytest.mark.parametrize("l2_target", ["env", "image", "none"])
def test_one_shot_is_the_papers_objective_for_any_regions(l2_target):
    rng = np.random.default_rng(1)
    image, E = rng.random((20, 24, 3)), rng.random((5, 10, 1))
    mask = np.zeros((20, 24), bool)
    mask[2:18, 3:21] = True
    paper = scratch_objective(image, E, mask, lam=30.0, l2_target=l2_target)
    for tiles in (1, 3):
        one = sequence_objective([image], [E], shot_regions(mask, tiles), 30.0, l2_target, 8.0)
        assert one.loss == pytest.approx(paper.loss, rel=1e-12)
        assert one.l_grad == pytest.approx(paper.l_grad, rel=1e-12)
        np.testing.assert_allclose(one.dL_dI[0], paper.dL_dI, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(one.dL_dE[0], paper.dL_dE, rtol=1e-12)


@pytest.mark.parametrize("power", [2.0, 8.0])
def test_sequence_gradient_matches_finite_differences(power):
    rng = np.random.default_rng(2)
    h, w = 16, 18
    mask = np.zeros((h, w), bool)
    mask[1:15, 2:16] = True
    labels = shot_regions(mask, 3)
    images = [rng.random((h, w, 3)) for _ in range(3)]
    E = [rng.random((4, 8, 1)) for _ in range(3)]
    f = lambda I, X: sequence_objective(I, X, labels, 30.0, "image", power).loss
    v = sequence_objective(images, E, labels, 30.0, "image", power)
    eps = 1e-6
    for k in range(3):
        d, e = rng.standard_normal((h, w, 3)), rng.standard_normal(E[k].shape)
        up = [x + eps * d if j == k else x for j, x in enumerate(images)]
        down = [x - eps * d if j == k else x for j, x in enumerate(images)]
        assert np.sum(v.dL_dI[k] * d) == pytest.approx((f(up, E) - f(down, E)) / (2 * eps),
                                                       rel=1e-5)
        up = [x + eps * e if j == k else x for j, x in enumerate(E)]
        down = [x - eps * e if j == k else x for j, x in enumerate(E)]
        assert np.sum(v.dL_dE[k] * e) == pytest.approx(
            (f(images, up) - f(images, down)) / (2 * eps), rel=1e-5, abs=1e-12)


def test_shot_starts_differ_by_azimuth_and_one_shot_keeps_the_start():
    E0 = np.full((4, 8, 1), 0.5)
    assert np.array_equal(shot_starts(E0, 1)[0], E0)
    two = shot_starts(E0, 2)
    assert two.shape == (2, 4, 8, 1)
    # shot 1 is brightest at azimuth 0 and pi, shot 2 at pi/2 and 3 pi/2 (columns 0, 2 ...)
    assert two[0, 0, 0, 0] > 0.5 > two[1, 0, 0, 0]
    assert two[1, 0, 2, 0] > 0.5 > two[0, 0, 2, 0]


def _two_scratches(path):
    """A 64 x 64 point surface (5 um) with fine noise, a V scratch along x in its upper
    half and one along y in its lower half, with the truth mask."""
    from scratchlight.io import check_heightmap, write_npz

    n, dx = 64, 5e-6
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:n, 0:n]
    h = 0.02e-6 * rng.standard_normal((n, n))
    along_x = (np.abs(yy - 16) < 3) & (xx > 8) & (xx < 56)
    along_y = (np.abs(xx - 40) < 3) & (yy > 30) & (yy < 60)
    h -= 1.0e-6 * np.where(along_x, 1 - np.abs(yy - 16) / 3, 0)
    h -= 1.0e-6 * np.where(along_y, 1 - np.abs(xx - 40) / 3, 0)
    hm = check_heightmap(h, dx, dx, source="two-scratches").replace(truth=along_x | along_y)
    write_npz(str(path), hm)


@pytest.fixture(scope="module")
def scratches_session(tmp_path_factory):
    from scipy import ndimage

    from scratchlight.scene import CameraSpec, SceneSpec
    from scratchlight.session import Session

    path = tmp_path_factory.mktemp("shots") / "two.npz"
    _two_scratches(path)
    # seen from above: from the default oblique camera a scratch along the line of sight
    # hardly shows under any light
    s = Session(str(path), SceneSpec(width=48, height=48, camera=CameraSpec(preset="top")),
                device="cpu")
    s.set_mask(ndimage.binary_dilation(s.truth_mask(), iterations=1) & s.object_mask)
    return s


@pytest.mark.slow
def test_one_shot_sequence_loop_equals_todays_loop(scratches_session):
    """The sequence loop with K = 1 gives the very losses of ``optimize_light`` (same
    engine, seed, start and iterations)."""
    from scratchlight.optimize import LightConfig, OptimizerConfig, optimize_light
    from scratchlight.optimize.shots_loop import optimize_sequence

    s = scratches_session
    light, opt = LightConfig(), OptimizerConfig(iterations=6)
    eng = s.engine("transport", 16, 0)
    E0 = s.initial_envmap(light)
    today = optimize_light(eng, E0, s.mask, light, opt, seed=3)
    seq = optimize_sequence(eng, E0[None], shot_regions(s.mask, 4), light, opt, seed=3)
    # equal but for rounding: the sums run in another order (NumPy here, numba there)
    np.testing.assert_allclose(seq.loss, today.loss, rtol=1e-6)
    np.testing.assert_allclose(seq.envmaps[0], today.envmap, atol=1e-6)


@pytest.mark.slow
def test_two_shots_light_two_perpendicular_scratches_each_better(scratches_session):
    """K = 2 on scratches along x and along y: each shot shows one scratch better than
    the other shot does, and the sequence (judged with the maximum over shots on
    independent 128-spp renders) beats the best single light of as many iterations."""
    from scratchlight.optimize import LightConfig, OptimizerConfig
    from scratchlight.optimize.shots_loop import optimize_sequence

    s = scratches_session
    light, opt = LightConfig(shots=2, shot_tiles=1), OptimizerConfig(iterations=60, lr=0.05)
    eng = s.engine("transport", 16, 0)
    labels = shot_regions(s.mask, 1)
    assert labels.max() == 2
    E0 = s.initial_envmap(light)
    seq = optimize_sequence(eng, shot_starts(E0, 2), labels, light, opt, seed=0)
    single = s.optimize(LightConfig(), opt, seed=0).envmap
    judge = lambda E: s.render_final(E, 128, seed=4242)
    shots = [judge(E) for E in seq.envmaps]
    v = sequence_objective(shots, list(seq.envmaps), labels, light.effective_lam, "env", np.inf)
    one = sequence_objective([judge(single)], [single], labels, light.effective_lam, "env",
                             np.inf)
    assert sorted(v.best_shot.tolist()) == [0, 1]  # each scratch has its own shot ...
    a = np.array([region_means(I, labels) for I in shots])  # (shot, region)
    for r, k in enumerate(v.best_shot):  # ... showing it far better than the other shot
        assert a[k, r] > 2.0 * a[1 - k, r]
    assert v.l_grad < 0.9 * one.l_grad
    assert v.loss < one.loss


@pytest.mark.slow
def test_session_optimize_refuses_several_shots(scratches_session):
    """A session's optimize runs one light: a sequence is refused by name, not run as one."""
    from scratchlight.errors import InputError
    from scratchlight.optimize import LightConfig

    with pytest.raises(InputError) as e:
        scratches_session.optimize(LightConfig(shots=2))
    assert e.value.path == "light.shots" and "run_optimization" in e.value.problem


@pytest.mark.slow
def test_cli_writes_every_shot_and_replays(tmp_path):
    from scratchlight.cli import main

    surface = tmp_path / "two.npz"
    _two_scratches(surface)
    out = tmp_path / "r"
    args = [str(surface), "--out", str(out), "--shots", "2", "--resolution", "32",
            "--iterations", "3", "--final-spp", "8", "--spp", "4", "--engine", "transport",
            "--quiet", "--device", "cpu"]
    assert main(["optimize", *args]) == 0
    doc = json.loads((out / "run.json").read_text())
    assert [s["shot"] for s in doc["shots"]] == [1, 2]
    assert sum(s["share"] for s in doc["shots"]) == pytest.approx(1.0)
    for name in doc["files"]:
        assert (out / name).is_file(), name
    assert not (out / "envmap.exr").exists()
    again = tmp_path / "again"
    assert main(["optimize", "--config", str(out / "run.json"), "--out", str(again),
                 "--quiet"]) == 0
    # as a single-light replay: equal to float rounding (the transport matrix comes from its
    # cache the second time)
    assert json.loads((again / "run.json").read_text())["loss"] == pytest.approx(doc["loss"],
                                                                            rel=1e-6)


@pytest.mark.parametrize("value", ["0", "100"])
def test_bad_shots_are_one_line_and_write_nothing(tmp_path, capsys, value):
    from scratchlight.cli import main

    out = tmp_path / "r"
    code = main(["optimize", "x.npz", "--out", str(out), "--shots", value])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err == f"scratchlight: error: --shots: must be in [1, 8], got {value}"
    assert not out.exists()


@pytest.mark.slow
def test_a_sequence_with_a_twin_takes_each_defects_best_shot(tmp_path, capsys):
    """optimize --shots 2 --twin: the sequence's d' of each defect is the larger of the
    two shots' (each judged against the twin), and the command prints it."""
    from scratchlight.cli import main

    fm, twin, out = tmp_path / "fm.npz", tmp_path / "twin.npz", tmp_path / "r"
    assert main(["synth", "--kind", "face-mill", "--size", "96", "--scratches", "3",
                 "--out", str(fm), "--twin", str(twin)]) == 0
    assert main(["optimize", str(fm), "--twin", str(twin), "--out", str(out), "--shots", "2",
                 "--resolution", "64", "--iterations", "3", "--final-spp", "8", "--spp", "4",
                 "--engine", "transport", "--quiet", "--device", "cpu"]) == 0
    doc = json.loads((out / "run.json").read_text())
    seq = doc["detectability"]
    per = [s["detectability"]["npw"]["per_defect"] for s in doc["shots"]]
    assert len(per[0]) == len(per[1]) == len(seq["npw"]["per_defect"]) > 0
    np.testing.assert_allclose(seq["npw"]["per_defect"], np.maximum(per[0], per[1]))
    assert seq["npw"]["overall"] == pytest.approx(np.mean(np.maximum(per[0], per[1])))
    assert seq["best_shot"]["npw"] == [1 + int(b > a) for a, b in zip(*per)]
    assert "d' against the twin" in capsys.readouterr().out

"""The step-wise session API, the nested configs, and --config replay of every command."""
import json
import subprocess
import sys

import numpy as np
import pytest

from scratchlight.config import config_from_dict, config_to_dict, replace_field
from scratchlight.errors import InputError
from scratchlight.optimize import LightConfig, OptimizeConfig, OptimizerConfig
from scratchlight.scene import SceneSpec
from scratchlight.session import Session, run_optimization
from scratchlight.surface import SurfaceConfig

SMALL = SceneSpec(width=32, height=32, exaggeration="auto")
LIGHT = LightConfig(envmap_size=(8, 16))


@pytest.fixture
def session(feed_marks_npz):
    return Session(SurfaceConfig(str(feed_marks_npz)), SMALL)


@pytest.mark.slow
def test_session_optimize_equals_run_optimization(tmp_path, feed_marks_npz, session):
    """The session's step-wise run and the one-call run_optimization are the same run."""
    opt = OptimizerConfig(iterations=4, spp=4, final_spp=8)
    run = session.optimize(LIGHT, opt, seed=3)
    cfg = OptimizeConfig(surface=SurfaceConfig(str(feed_marks_npz)), scene=SMALL, light=LIGHT,
                         optimizer=opt, seed=3)
    s = run_optimization(cfg, str(tmp_path / "r"), progress=False)
    assert s["loss"] == pytest.approx(run.loss, rel=1e-6)
    assert s["command"] == "optimize" and s["final_render_seed"] == 987_654
    saved = json.loads((tmp_path / "r" / "run.json").read_text())
    assert OptimizeConfig.from_dict(saved["config"]) == cfg
    from scratchlight.io import read_envmap

    E0 = read_envmap(tmp_path / "r" / "envmap_initial.exr")
    assert np.allclose(E0, 0.5)
    # where the time went, step by step, in the order the steps ran
    phases = saved["phases_s"]
    assert list(phases) == ["start", "read", "scene", "engine_choice", "engine_build",
                            "iterations", "judge_before", "judge_after", "write"]
    assert all(v >= 0 for v in phases.values()) and phases["start"] > 0.05  # Python started
    assert phases["iterations"] == pytest.approx(saved["time_s"], abs=1e-3)
    steps = sum(v for k, v in phases.items() if k not in ("start", "write"))
    assert steps <= saved["total_time_s"] + 1e-3 and phases["write"] > 0


def test_callback_stops_and_keeps_best(session):
    seen = []

    def stop_after_three(step):
        seen.append((step.iteration, step.loss))
        return step.iteration == 2

    run = session.optimize(LIGHT, OptimizerConfig(iterations=20, spp=4), callback=stop_after_three)
    assert run.stopped and not run.interrupted
    assert [k for k, _ in seen] == [0, 1, 2] and run.iterations_done == 3
    assert np.array_equal(run.envmap, run.best_envmap)


@pytest.mark.slow
def test_resume_continues_the_same_run(feed_marks_npz):
    """Two runs of 3 iterations, the second resumed, equal one run of 6 (same seeds, the
    same Adam state): steering a run does not change it."""
    opt3, opt6 = OptimizerConfig(iterations=3, spp=4), OptimizerConfig(iterations=6, spp=4)
    a = Session(SurfaceConfig(str(feed_marks_npz)), SMALL)
    a.optimize(LIGHT, opt3, seed=1)
    first = a.run.envmap.copy()
    resumed = a.optimize(resume=True)
    b = Session(SurfaceConfig(str(feed_marks_npz)), SMALL)
    whole = b.optimize(LIGHT, opt6, seed=1)
    assert resumed.iterations_done == 6
    assert resumed.loss == pytest.approx(whole.loss, rel=1e-5)
    np.testing.assert_allclose(resumed.envmap, whole.envmap, atol=1e-5)
    assert not np.allclose(first, resumed.envmap)


def test_new_mask_between_runs(session):
    session.optimize(LIGHT, OptimizerConfig(iterations=2, spp=4))
    full = session.object_mask.sum()
    region = np.zeros(session.object_mask.shape, bool)
    region[8:24, 8:24] = True
    M = session.set_mask(region)
    assert 4 <= M.sum() < full and not (M & ~region).any()
    run = session.optimize(resume=True)
    assert np.array_equal(run.mask, M) and run.iterations_done == 4
    with pytest.raises(InputError) as e:
        session.set_mask(np.zeros((5, 5), bool))
    assert e.value.path == "light.mask"


def test_relight_render_final_and_evaluate(session):
    E = np.full((8, 16, 1), 0.5, np.float32)
    img = session.relight(E, engine="ad", spp=4)
    assert img.shape == (32, 32, 3) and np.isfinite(img).all()
    a = session.render_final(E, spp=8, seed=5)
    b = session.render_final(E, spp=8, seed=5)
    assert np.array_equal(a, b)
    metrics, images = session.evaluate(E, seeds=2, spp=4)
    assert len(images) == 2 and len(metrics["mean_gradient"]["values"]) == 2


def test_resume_without_run_and_save_without_run(session, tmp_path):
    with pytest.raises(InputError):
        session.optimize(resume=True)
    with pytest.raises(InputError):
        session.save(tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_config_round_trip_and_field_errors():
    cfg = OptimizeConfig.from_options(heightmap="/a.npz", resolution=(64, 48), lam=3.0,
                                      camera="custom", camera_origin=[0, -3, 2], crop=[1, 2, 10, 12])
    assert cfg.scene.width == 64 and cfg.scene.height == 48 and cfg.scene.camera.origin == (0, -3, 2)
    d = config_to_dict(cfg)
    assert d["light"]["lam"] == 3.0 and d["surface"]["crop"] == [1, 2, 10, 12]
    assert config_from_dict(OptimizeConfig, json.loads(json.dumps(d))) == cfg
    # a flat run.json of version 0.1 reads as options
    assert OptimizeConfig.from_dict({"heightmap": "/a.npz", "iterations": 7}).optimizer.iterations == 7
    with pytest.raises(InputError) as e:
        config_from_dict(OptimizeConfig, {"light": {"lamda": 1}})
    assert e.value.path == "light.lamda"
    with pytest.raises(InputError) as e:
        replace_field(cfg, "optimizer.iterations", 0).validate()
    assert e.value.path == "optimizer.iterations"
    # frozen parts are replaced, never modified
    c2 = replace_field(cfg, "scene.camera.fov_deg", 40.0)
    assert cfg.scene.camera.fov_deg == 30.0 and c2.scene.camera.fov_deg == 40.0


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "scratchlight.cli", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.slow
def test_render_relight_evaluate_replay_with_config(tmp_path, feed_marks_npz):
    small = ["--resolution", "24", "--spp", "4"]
    r = _cli("render", feed_marks_npz, "--constant", "0.5", "--out", tmp_path / "a.png",
             "--exr", tmp_path / "a.exr", *small)
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "a.run.json").read_text())
    assert doc["command"] == "render" and doc["config"]["light"]["constant"] == 0.5
    r = _cli("render", "--config", tmp_path / "a.run.json", "--out", tmp_path / "b.png",
             "--exr", tmp_path / "b.exr")
    assert r.returncode == 0, r.stderr
    from scratchlight.io import read_envmap

    assert np.array_equal(read_envmap(tmp_path / "a.exr"), read_envmap(tmp_path / "b.exr"))

    r = _cli("evaluate", feed_marks_npz, "--constant", "0.5", "--out", tmp_path / "m.json",
             "--seeds", "2", *small)
    assert r.returncode == 0, r.stderr
    r = _cli("evaluate", "--config", tmp_path / "m.json", "--out", tmp_path / "m2.json")
    assert r.returncode == 0, r.stderr
    m1, m2 = (json.loads((tmp_path / f).read_text()) for f in ("m.json", "m2.json"))
    assert m1["config"] == m2["config"] and m1["metrics"] == m2["metrics"]

    # a config of another command is refused, naming the file
    r = _cli("evaluate", "--config", tmp_path / "a.run.json", "--out", tmp_path / "m3.json")
    assert r.returncode == 2 and "a.run.json" in r.stderr and "render" in r.stderr
    assert not (tmp_path / "m3.json").exists()


@pytest.mark.slow
def test_unknown_config_field_is_one_line_error(tmp_path):
    bad = tmp_path / "run.json"
    bad.write_text(json.dumps({"command": "optimize", "config": {"light": {"lamda": 2}}}))
    r = _cli("optimize", "--config", bad, "--out", tmp_path / "o")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "light.lamda" in lines[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_defect_contrast_objective_runs_and_is_judged_the_same_way(session):
    region = np.zeros(session.object_mask.shape, bool)
    region[10:22, :] = True
    session.set_mask(region)
    light = LightConfig(envmap_size=(8, 16), mask="region", objective="defect-contrast")
    run = session.optimize(light, OptimizerConfig(iterations=6, spp=4))
    assert run.loss[-1] < run.loss[0]
    img = session.render_final(run.envmap, spp=8)
    from scratchlight.objectives import defect_contrast_objective

    expected = defect_contrast_objective(img, run.envmap, session.object_mask, session.mask,
                                         lam=30.0).loss
    assert session.judge(img, run.envmap, light)["loss"] == pytest.approx(expected)
    with pytest.raises(InputError) as e:
        LightConfig(objective="defect-contrast").validate()   # no prior: mask=object
    assert e.value.path == "light.objective"


@pytest.mark.slow
def test_transport_noise_is_an_optimizer_option(feed_marks_npz, tmp_path, monkeypatch):
    """optimizer.transport_noise reaches the transport engine: 'none' gives the engine's
    deterministic images (two runs equal), 'matched' adds fresh noise (a different curve);
    the option is saved with the config and named by its flag when wrong."""
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    s = Session(SurfaceConfig(str(feed_marks_npz)), SceneSpec(width=24, height=24,
                                                             exaggeration="auto"))
    runs = {}
    for noise in ("none", "none", "matched"):
        opt = OptimizerConfig(iterations=3, spp=4, engine="transport", transport_noise=noise,
                              transport_warmup=0)
        runs.setdefault(noise, []).append(s.optimize(LIGHT, opt, seed=2).loss)
    assert runs["none"][0] == runs["none"][1]
    assert runs["matched"][0] != runs["none"][0]
    cfg = OptimizeConfig.from_options(heightmap=str(feed_marks_npz), transport_noise="none")
    assert config_to_dict(cfg)["optimizer"]["transport_noise"] == "none"
    r = _cli("optimize", feed_marks_npz, "--out", tmp_path / "o", "--engine", "transport",
             "--transport-noise", "loud")
    assert r.returncode == 2 and "--transport-noise" in r.stderr


@pytest.mark.slow
def test_transport_warmup_is_an_optimizer_option(feed_marks_npz, tmp_path, monkeypatch):
    """optimizer.transport_warmup reaches the transport engine: a run of 3 iterations, all
    in the warm-up, has the loss curve of the AD engine at the warm-up's spp (4 for a run at
    4: a quarter, at least 4) with the same seed (to the last bits, which the adjoint's
    atomic sums may order differently); without a warm-up
    the curve is T's. The option is saved with the config, and a negative count is named
    by its flag."""
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    s = Session(SurfaceConfig(str(feed_marks_npz)), SceneSpec(width=24, height=24,
                                                             exaggeration="auto"))
    warm = s.optimize(LIGHT, OptimizerConfig(iterations=3, spp=4, engine="transport",
                                             transport_warmup=3), seed=2).loss
    ad = s.optimize(LIGHT, OptimizerConfig(iterations=3, spp=4, engine="ad"), seed=2).loss
    assert warm == pytest.approx(ad, rel=1e-5)  # the adjoint sums atomically: last bits
    cold = s.optimize(LIGHT, OptimizerConfig(iterations=3, spp=4, engine="transport",
                                             transport_warmup=0), seed=2).loss
    assert cold[0] != warm[0]
    cfg = OptimizeConfig.from_options(heightmap=str(feed_marks_npz), transport_warmup=4)
    assert config_to_dict(cfg)["optimizer"]["transport_warmup"] == 4
    with pytest.raises(InputError) as e:
        OptimizerConfig(transport_warmup=-1).validate()
    assert e.value.path == "optimizer.transport_warmup"
    r = _cli("optimize", feed_marks_npz, "--out", tmp_path / "o", "--transport-warmup", "-1")
    assert r.returncode == 2 and "--transport-warmup" in r.stderr and "Traceback" not in r.stderr

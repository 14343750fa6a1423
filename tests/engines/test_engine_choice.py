"""Engine 'auto': the pilot's memory estimate, the choice against a budget, and where the
choice is used (optimize, relight) and recorded (run.json)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from scratchlight.engines.choice import (choose_engine, default_memory_budget, estimate_transport,
                                         matrix_bytes, total_memory_bytes, transport_bound_bytes)
from scratchlight.engines.transport import TransportEngine, build_transport
from scratchlight.errors import InputError
from scratchlight.optimize import LightConfig, OptimizeConfig, OptimizerConfig
from scratchlight.scene import SceneSpec
from scratchlight.session import Session
from scratchlight.surface import SurfaceConfig

SCENE = SceneSpec(width=48, height=48, exaggeration="auto")
LIGHT = LightConfig(envmap_size=(8, 16))
TINY_GIB = 2 ** -20  # 1 KiB: less than any matrix, cached or built


@pytest.fixture
def session(feed_marks_npz):
    from scratchlight.scene import constant_envmap

    return Session(SurfaceConfig(str(feed_marks_npz)), SCENE, envmap=constant_envmap(0.5, (8, 16)))


def test_matrix_bytes_by_hand():
    # 10 non-zeros x (uint16 texel + 3 float32) + (16 + 1) int32 row pointers
    assert matrix_bytes(10, (4, 4), (2, 3)) == 10 * 14 + 17 * 4
    # more than 2**16 texels: int32 texel indices
    assert matrix_bytes(10, (2, 2), (256, 512)) == 10 * 16 + 5 * 4


def test_default_budget_is_a_quarter_of_memory():
    total = total_memory_bytes()
    assert total > 2 ** 28
    assert default_memory_budget() == total // 4


@pytest.mark.slow
def test_pilot_estimates_the_built_matrix(session):
    """The pilot's non-zeros and bytes agree with the matrix built afterwards."""
    est = estimate_transport(session.scene, spp=8, matrices=1, rows=16)
    T = build_transport(session.scene, spp=8)
    assert est.pilot_pixels == 16 * 48
    assert est.nnz == pytest.approx(T.nnz, rel=0.10)
    assert est.resident_bytes == pytest.approx(T.nbytes, rel=0.10)
    assert est.peak_bytes > est.resident_bytes
    two = estimate_transport(session.scene, spp=8, matrices=2, rows=16)
    assert two.resident_bytes == pytest.approx(2 * est.resident_bytes, rel=0.05)
    # the pilot-free bound holds the built matrix: at most 4 texels per path
    bound, bound_peak = transport_bound_bytes(session.scene, 8, matrices=1)
    h, w = session.scene.image_shape
    assert T.nbytes <= bound == matrix_bytes(h * w * 4 * 8, (h, w), (8, 16))
    assert bound_peak >= est.peak_bytes


def test_choice_follows_the_budget(session, tmp_path):
    # a budget above the matrices' largest possible size decides without a pilot
    big = choose_engine(session.scene, 4, budget_bytes=2 ** 34, cache_dir=tmp_path)
    assert big.engine == "transport" and "within the budget" in big.reason
    assert big.estimate is None and "at most" in big.reason
    # below that bound, the pilot decides
    resident, peak = transport_bound_bytes(session.scene, 4)
    mid = choose_engine(session.scene, 4, budget_bytes=peak - 1, cache_dir=tmp_path)
    assert mid.engine == "transport" and mid.estimate is not None
    assert mid.estimate.peak_bytes <= peak - 1
    small = choose_engine(session.scene, 4, budget_bytes=2 ** 20, cache_dir=tmp_path)
    assert small.engine == "ad" and "over the budget" in small.reason
    with pytest.raises(ValueError, match="positive"):
        choose_engine(session.scene, 4, budget_bytes=0, cache_dir=tmp_path)


def test_cached_matrices_decide_without_a_pilot(session, tmp_path):
    engine = TransportEngine(session.scene, spp=4, seed=2, cache_dir=tmp_path)
    hit = choose_engine(session.scene, 4, seed=2, budget_bytes=2 ** 34, cache_dir=tmp_path)
    assert hit.engine == "transport" and hit.estimate is None and "cached" in hit.reason
    assert hit.cached_bytes >= engine.nbytes
    over = choose_engine(session.scene, 4, seed=2, budget_bytes=1024, cache_dir=tmp_path)
    assert over.engine == "ad" and "exceed" in over.reason
    other_seed = choose_engine(session.scene, 4, seed=3, budget_bytes=2 ** 34, cache_dir=tmp_path)
    assert other_seed.cached_bytes == 0 and "cached" not in other_seed.reason  # not that seed's


@pytest.mark.slow
def test_session_auto_runs_the_chosen_engine(session):
    opt = OptimizerConfig(iterations=2, spp=4)
    run = session.optimize(LIGHT, opt)
    assert run.engine == "transport" and run.engine_choice["engine"] == "transport"
    tight = Session(session.surface_config, SCENE)
    run = tight.optimize(LIGHT, OptimizerConfig(iterations=2, spp=4, memory_budget_gib=TINY_GIB))
    assert run.engine == "ad" and "budget of 1 KiB" in run.engine_choice["reason"]
    again = tight.optimize(resume=True)
    assert again.engine == "ad" and again.iterations_done == 4
    named = tight.optimize(LIGHT, OptimizerConfig(iterations=1, spp=4, engine="ad"))
    assert named.engine == "ad" and named.engine_choice is None


def test_budget_is_validated():
    with pytest.raises(InputError) as e:
        OptimizerConfig(memory_budget_gib=0).validate()
    assert e.value.path == "optimizer.memory_budget_gib"
    cfg = OptimizeConfig.from_options(memory_budget_gib=2.0)
    assert cfg.optimizer.memory_budget_bytes == 2 * 2 ** 30


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "scratchlight.cli", *map(str, args)],
                          capture_output=True, text=True)


@pytest.mark.slow
def test_cli_optimize_prints_and_saves_the_choice(feed_marks_npz, tmp_path):
    out = tmp_path / "run"
    r = _cli("optimize", feed_marks_npz, "--out", out, "--resolution", 32, "--spp", 4,
             "--iterations", 2, "--final-spp", 4, "--envmap-size", "8x16", "--quiet",
             "--memory-budget", TINY_GIB)
    assert r.returncode == 0, r.stderr
    assert "ad engine (auto:" in r.stdout and "budget of 1 KiB" in r.stdout
    doc = json.loads((out / "run.json").read_text())
    assert doc["engine"] == "ad" and doc["config"]["optimizer"]["engine"] == "auto"
    assert doc["engine_choice"]["budget_bytes"] == int(TINY_GIB * 2 ** 30)
    assert doc["config"]["optimizer"]["memory_budget_gib"] == TINY_GIB
    r = _cli("optimize", "--config", out / "run.json", "--out", tmp_path / "again", "--quiet")
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "again" / "run.json").read_text())["engine"] == "ad"
    r = _cli("optimize", feed_marks_npz, "--out", tmp_path / "bad", "--memory-budget", -1)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "--memory-budget" in r.stderr and not (tmp_path / "bad").exists()


@pytest.mark.slow
def test_cli_relight_auto(feed_marks_npz, tmp_path):
    from scratchlight.io import write_exr
    from scratchlight.scene import constant_envmap

    light = tmp_path / "light.exr"
    write_exr(str(light), constant_envmap(0.7, (8, 16)))
    args = ("relight", feed_marks_npz, "--envmap", light, "--resolution", 32, "--spp", 4,
            "--cache-dir", tmp_path / "cache")
    r = _cli(*args, "--out", tmp_path / "t.png", "--exr", tmp_path / "t.exr")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "t.run.json").read_text())
    assert doc["engine"] == "transport" and doc["engine_choice"]["engine"] == "transport"
    r = _cli(*args, "--out", tmp_path / "a.png", "--exr", tmp_path / "a.exr",
             "--memory-budget", TINY_GIB)
    assert r.returncode == 0, r.stderr
    assert "Mitsuba render" in r.stdout
    doc = json.loads((tmp_path / "a.run.json").read_text())
    assert doc["engine"] == "ad" and doc["config"]["memory_budget_gib"] == TINY_GIB
    # two estimates of the same image: equal means within a few per cent
    from scratchlight.io import read_envmap

    a, t = (read_envmap(str(tmp_path / f)).astype(float) for f in ("a.exr", "t.exr"))
    assert t.mean() > 0.01
    assert abs(a.mean() - t.mean()) < 0.05 * t.mean()

"""The optimization of issue 3: engine gradient, initial states, scratch map, whole runs."""
import json
import subprocess
import sys

import numpy as np
import pytest

from surface_helpers import feed_marks
from scratchlight.engines import ADEngine
from scratchlight.optimize import (OptimizeConfig, OptimizerConfig, cie_lightness, initial_envmap,
                                   optimize_light)
from scratchlight.session import run_optimization
from scratchlight.optimize.init import resize_envmap
from scratchlight.scene import CameraSpec, SceneSpec, build_scene
from scratchlight.scene.envmap import direction_to_texel
from scratchlight.surface.scratchmap import scratch_map


@pytest.fixture(scope="module")
def small_scene():
    return build_scene(feed_marks(), SceneSpec(width=32, height=32))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.slow
def test_envmap_gradient_matches_finite_differences(small_scene, channels):
    """For f(E) = sum(g * I(E)) with a fixed g, the finite difference f(E + v) - f(E) of
    high-spp renders equals the engine's gradient projected on v (f is linear in E, so the
    difference is exact up to Monte Carlo noise)."""
    rng = np.random.default_rng(3)
    eng = ADEngine(small_scene, spp=16)
    E = (0.3 + 0.4 * rng.random((8, 16, channels))).astype(np.float32)
    g = (rng.random((32, 32, 3)) * small_scene.object_mask[..., None]).astype(np.float32)
    grads = []
    for s in range(4):
        eng.render(E, seed=100 + s, spp=64, grad=True)
        grads.append(eng.backprop(g))
    grad = np.mean(grads, axis=0)
    assert grad.shape == E.shape
    v = rng.random(E.shape).astype(np.float32)
    f = lambda X: float(np.sum(g * eng.render_progressive(X, 512, seed=7, chunk_spp=256)))
    fd = f(E + v) - f(E)
    assert np.sum(grad * v) == pytest.approx(fd, rel=0.05)
    # and a wrong gradient would fail: the projection on a different direction differs
    w = rng.random(E.shape).astype(np.float32) * (np.arange(16)[None, :, None] < 8)
    assert abs(np.sum(grad * w) - fd) > 0.1 * abs(fd)


def test_cie_lightness_known_values():
    L = cie_lightness(np.array([[1, 1, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1],
                                [0.18, 0.18, 0.18]]))
    assert L == pytest.approx([100.0, 0.0, 53.24, 87.73, 32.30, 49.50], abs=0.02)
    # the two branches meet at Y = (6/29)^3 with L* = 8
    y = (6 / 29) ** 3
    assert cie_lightness(np.array([y, y, y])) == pytest.approx(8.0, abs=1e-6)


def test_file_init_is_gray_lightness(tmp_path):
    from scratchlight.io import write_exr

    rgb = np.zeros((50, 100, 3), np.float32)
    rgb[..., 1] = 0.18  # uniform green of luminance 0.7152 * 0.18
    path = tmp_path / "env.exr"
    write_exr(path, rgb)
    E = initial_envmap(str(path), (25, 50), 1)
    assert E.shape == (25, 50, 1)
    expected = (116 * np.cbrt(0.7152 * 0.18) - 16) / 100
    assert np.allclose(E, expected, atol=1e-4)
    assert resize_envmap(rgb, (25, 50)).shape == (25, 50, 3)


def test_direction_to_texel_matches_mitsuba_lookup():
    """At texel centres Mitsuba's bilinear lookup returns that texel: our nearest texel agrees."""
    import mitsuba as mi

    from scratchlight.scene.emitter import envmap_dict

    H, W = 6, 12
    E = np.random.default_rng(0).random((H, W, 1)).astype(np.float32)
    emitter = mi.load_dict(envmap_dict(E))
    rows, cols = np.mgrid[1:H - 1, 0:W]  # rows 0 and H-1 are the poles: one direction each
    u = (cols.ravel() + 0.5) / W
    v = rows.ravel() / (H - 1)
    phi, theta = 2 * np.pi * u, np.pi * v
    local = np.stack([np.sin(theta) * np.sin(phi), np.cos(theta), -np.sin(theta) * np.cos(phi)], 1)
    world = np.stack([local[:, 0], -local[:, 2], local[:, 1]], 1)  # rotate +90 deg about x
    si = mi.SurfaceInteraction3f()
    si.wi = mi.Vector3f(-world[:, 0], -world[:, 1], -world[:, 2])
    values = np.array(emitter.eval(si))[0]
    r, c = direction_to_texel(world, (H, W))
    assert np.allclose(values, E[r, c, 0], atol=1e-5)


@pytest.mark.slow
def test_specular_init_on_flat_mirror_lights_the_zenith():
    from scratchlight.io import check_heightmap

    hm = check_heightmap(np.zeros((16, 16)), 1e-5, 1e-5)
    scene = build_scene(hm, SceneSpec(width=16, height=16, roughness=0.0,
                                      camera=CameraSpec("top")))
    E = initial_envmap("specular", (25, 50), 1, scene=scene)
    assert E.max() == 1.0
    assert E[0].sum() > 0 and E[1:].sum() == 0  # every ray leaves straight up


def test_scratch_map_finds_planted_groove():
    rng = np.random.default_rng(0)
    h = 1e-9 * rng.standard_normal((200, 200))
    h[100:103, 20:60] -= 1e-6  # a groove 3 cells wide inside patch row 2, columns 0..1
    m = scratch_map(h)
    marked = {(i // 40, j // 40) for i, j in zip(*np.nonzero(m))}
    assert marked == {(2, 0), (2, 1)}
    assert m[80:120, 0:80].all()


def test_interrupt_keeps_best_map(small_scene):
    eng = ADEngine(small_scene, spp=4)
    E0 = np.full((8, 16, 1), 0.5, np.float32)

    def stop(k, E, loss):
        if k == 4:
            raise KeyboardInterrupt

    r = optimize_light(eng, E0, small_scene.object_mask, optimizer=OptimizerConfig(iterations=50),
                       callback=stop)
    assert r.interrupted and len(r.loss) == 5
    assert np.array_equal(r.envmap, r.best_envmap)


@pytest.mark.slow
def test_end_to_end_run_improves_high_spp_objective(tmp_path, feed_marks_npz):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "scratchlight.cli", "optimize", str(feed_marks_npz),
           "--out", str(out), "--resolution", "64", "--iterations", "20", "--spp", "8",
           "--final-spp", "128", "--seed", "1", "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for name in ["envmap.exr", "envmap.png", "before.png", "after.png", "loss.png", "run.json",
                 "compare.png", "mask.png"]:
        assert (out / name).is_file(), name
    s = json.loads((out / "run.json").read_text())
    assert len(s["loss"]) == 20 and s["time_s"] > 0
    assert s["objective_after"]["loss"] < s["objective_before"]["loss"]
    assert s["objective_after"]["mean_gradient"] > s["objective_before"]["mean_gradient"]
    assert {"mitsuba", "drjit", "numpy"} <= set(s["versions"])
    from scratchlight.io import read_envmap

    E = read_envmap(out / "envmap.exr")
    assert E.shape == (25, 50, 3)
    assert np.array_equal(E[..., 0], E[..., 1]) and np.array_equal(E[..., 0], E[..., 2])
    assert E.min() >= 0 and E.max() <= 1
    # the saved config repeats the run exactly
    out2 = tmp_path / "again"
    r = subprocess.run([sys.executable, "-m", "scratchlight.cli", "optimize", "--config",
                        str(out / "run.json"), "--out", str(out2), "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # (gradients are summed by parallel atomic adds, so equal only to rounding)
    assert json.loads((out2 / "run.json").read_text())["loss"] == pytest.approx(s["loss"], rel=1e-6)


@pytest.mark.slow
def test_rgb_scratch_mask_and_l2_variants(tmp_path, feed_marks_npz):
    cfg = OptimizeConfig.from_options(heightmap=str(feed_marks_npz), width=32, height=32,
                                      iterations=3, spp=4, final_spp=8, color="rgb",
                                      mask="scratch", l2_target="image", init="random",
                                      envmap_size=(8, 16))
    s = run_optimization(cfg, str(tmp_path / "rgb"), progress=False)
    assert s["lam"] == 10.0 and len(s["loss"]) == 3
    assert 0 < s["mask_pixels"] <= 32 * 32


BAD = [
    (["--lam", "-1"], "--lam"),
    (["--iterations", "0"], "--iterations"),
    (["--envmap-size", "3x8"], "--envmap-size"),
    (["--envmap-size", "4x7"], "--envmap-size"),
    (["--init", "missing.exr"], "missing.exr"),
    (["--init", "BROKEN"], "broken.png"),
    (["--mask", "WRONG"], "wrong.png"),
]


@pytest.mark.parametrize("extra,needle", BAD)
@pytest.mark.slow
def test_bad_optimize_input(tmp_path, feed_marks_npz, extra, needle):
    from PIL import Image

    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "wrong.png")
    extra = [{"BROKEN": str(tmp_path / "broken.png"), "WRONG": str(tmp_path / "wrong.png")}.get(a, a)
             for a in extra]
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "scratchlight.cli", "optimize", str(feed_marks_npz),
                        "--out", str(out), "--resolution", "16", "--iterations", "1", "--quiet",
                        *extra], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr
    assert not out.exists() or not any(out.iterdir())

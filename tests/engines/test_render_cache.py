"""The cache of judging renders: the same image as the render, keyed on all it depends on."""
import dataclasses
import os

import numpy as np
import pytest

from surface_helpers import feed_marks
from scratchlight.engines import ADEngine
from scratchlight.engines.render_cache import cached_render, default_render_cache_dir, render_key
from scratchlight.optimize import LightConfig, OptimizeConfig, OptimizerConfig
from scratchlight.scene import SceneSpec, build_scene
from scratchlight.session import FINAL_RENDER_SEED, Session, run_optimization
from scratchlight.surface import SurfaceConfig

ENV = (8, 16)


@pytest.fixture(scope="module")
def scene():
    return build_scene(feed_marks(), SceneSpec(width=24, height=24, roughness=0.15),
                       envmap=np.full(ENV + (1,), 0.5, np.float32))


def _light(seed=0):
    return np.random.default_rng(seed).random(ENV + (1,), np.float32)


def test_a_cached_render_is_the_render_to_the_bit(scene, tmp_path):
    E = _light()
    calls = []

    def render():
        calls.append(1)
        return ADEngine(scene).render_progressive(E, 32, seed=5)

    first, hit1 = cached_render(scene, E, 32, 5, render, cache_dir=tmp_path)
    second, hit2 = cached_render(scene, E, 32, 5, render, cache_dir=tmp_path)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    assert second.dtype == np.float32 and second.shape == (24, 24, 3)
    assert np.array_equal(first, second)
    # the cached image is what a fresh render of the same light, spp and seed gives
    assert np.array_equal(second, ADEngine(scene).render_progressive(E, 32, seed=5))
    assert [f for f in os.listdir(tmp_path)] == [f"R-{render_key(scene, E, 32, 5)}.npy"]


def test_the_key_covers_light_spp_seed_and_scene(scene):
    E = _light()
    key = render_key(scene, E, 32, 5)
    assert render_key(scene, E.copy(), 32, 5) == key
    E2 = E.copy()
    E2[3, 4, 0] += 1e-3
    assert render_key(scene, E2, 32, 5) != key
    assert render_key(scene, E.reshape(16, 8, 1), 32, 5) != key
    assert render_key(scene, E, 64, 5) != key
    assert render_key(scene, E, 32, 6) != key
    assert render_key(scene, E, 32, 5, "independent") == key
    assert render_key(scene, E, 32, 5, "ldsampler") != key
    spec = dataclasses.replace(scene.spec, roughness=0.2)
    assert render_key(dataclasses.replace(scene, spec=spec), E, 32, 5) != key
    hm = scene.heightmap
    h2 = hm.heights.copy()
    h2[0, 0] += 1e-9
    assert render_key(dataclasses.replace(scene, heightmap=hm.replace(heights=h2)), E, 32, 5) != key


def test_a_damaged_or_wrong_file_is_rendered_again(scene, tmp_path):
    E = _light(1)
    render = lambda: ADEngine(scene).render_progressive(E, 16, seed=2)  # noqa: E731
    image, _ = cached_render(scene, E, 16, 2, render, cache_dir=tmp_path)
    path = tmp_path / f"R-{render_key(scene, E, 16, 2)}.npy"
    for bad in (b"not a numpy file", None):
        if bad is None:  # a whole file of the wrong content: NaN
            np.save(path, np.full((24, 24, 3), np.nan, np.float32))
        else:
            path.write_bytes(bad)
        again, hit = cached_render(scene, E, 16, 2, render, cache_dir=tmp_path)
        assert not hit and np.array_equal(again, image)
        assert cached_render(scene, E, 16, 2, render, cache_dir=tmp_path)[1]


def test_an_unwritable_cache_costs_time_not_the_result(scene, tmp_path):
    E = _light(2)
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where the folder would go
    image, hit = cached_render(scene, E, 16, 3, lambda: np.ones((24, 24, 3), np.float32),
                               cache_dir=blocker / "renders")
    assert not hit and image.shape == (24, 24, 3)


@pytest.mark.slow
def test_optimize_results_share_the_initial_lights_render(feed_marks_npz, tmp_path, monkeypatch):
    """Two runs from the constant start: the second takes the 'before' render from the
    cache, and its results are those of a run that rendered it."""
    # a cache root of this test alone: other test processes write renders into the shared one
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "cache"))
    spec = SceneSpec(width=24, height=24, exaggeration="auto")
    light = LightConfig(envmap_size=ENV)
    opt = OptimizerConfig(iterations=2, spp=4, final_spp=16)
    cfg = OptimizeConfig(surface=SurfaceConfig(str(feed_marks_npz)), scene=spec, light=light,
                         optimizer=opt, seed=1)
    folder = default_render_cache_dir()
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    s1 = run_optimization(cfg, str(tmp_path / "a"), progress=False)
    added = set(os.listdir(folder)) - before
    # the initial light's renders only (the judge's two or more), not the final one's
    assert len(added) == s1["objective_before"]["renders"] >= 2
    s2 = run_optimization(dataclasses.replace(cfg, seed=2), str(tmp_path / "b"), progress=False)
    assert set(os.listdir(folder)) - before == added
    assert s1["objective_before"] == s2["objective_before"]
    session = Session(SurfaceConfig(str(feed_marks_npz)), spec)
    for seed in s1["objective_before"]["seeds"]:
        fresh = session.render_final(np.full(ENV + (1,), 0.5, np.float32), 16, seed=seed,
                                     sampler="ldsampler")
        cached = session.render_final(np.full(ENV + (1,), 0.5, np.float32), 16, seed=seed,
                                      sampler="ldsampler", cache=True)
        assert np.array_equal(fresh, cached)
    assert FINAL_RENDER_SEED == s1["final_render_seed"]

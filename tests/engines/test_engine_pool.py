"""The engine pool: choose, build, keep (a hit returns the same object), evict the least
recently used; and the session's steps (relight, lamps, fit, judging) share its pool."""
import numpy as np
import pytest

from surface_helpers import feed_marks
from scratchlight.engines import ADEngine, TransportEngine
from scratchlight.engines.pool import EnginePool
from scratchlight.engines.subset import SubsetRenderer
from scratchlight.scene import CameraSpec, SceneSpec, build_scene, constant_envmap

SHAPE = (8, 16)


@pytest.fixture(scope="module")
def scene():
    return build_scene(feed_marks(32, 32), SceneSpec(width=32, height=32, roughness=0.2),
                       envmap=constant_envmap(0.5, SHAPE))


def test_build_then_hit_returns_the_same_engine(scene, tmp_path):
    pool = EnginePool()
    ad = pool.get("ad", scene, 4)
    assert isinstance(ad, ADEngine) and pool.get("ad", scene, 4) is ad
    T = pool.get("transport", scene, 4, seed=1, cache_dir=tmp_path)
    assert isinstance(T, TransportEngine) and T.seed == 1
    assert pool.get("transport", scene, 4, seed=1, cache_dir=tmp_path) is T
    assert pool.get("transport", scene, 4, seed=2, cache_dir=tmp_path) is not T  # another T
    single = pool.get("transport", scene, 4, seed=1, cache_dir=tmp_path, decorrelate=False)
    assert single.T is not None and single is not T
    assert pool.stats()[:4] == (4, 2, 0, 4)
    assert pool.nbytes == T.nbytes + pool.get("transport", scene, 4, seed=2, cache_dir=tmp_path).nbytes \
        + single.nbytes
    # the key is the scene's content, not the Python object
    twin = build_scene(feed_marks(32, 32), SceneSpec(width=32, height=32, roughness=0.2),
                       envmap=constant_envmap(0.5, SHAPE))
    assert pool.get("ad", twin, 4) is ad
    with pytest.raises(ValueError, match="unknown engine"):
        pool.get("raytracer", scene)


def test_auto_chooses_by_budget_and_keeps_using_a_built_matrix(scene, tmp_path):
    pool = EnginePool()
    small = pool.choose(scene, 4, budget_bytes=1024, cache_dir=tmp_path)
    assert small.engine == "ad" and pool.choose(scene, 4, budget_bytes=1024, cache_dir=tmp_path) is small
    engine = pool.get("auto", scene, 4, budget_bytes=2 ** 34, cache_dir=tmp_path)
    assert isinstance(engine, TransportEngine) and pool.builds == 1
    again = pool.choose(scene, 4, budget_bytes=2 ** 33, cache_dir=tmp_path)  # no pilot needed
    assert again.engine == "transport" and "built already" in again.reason
    assert pool.get("auto", scene, 4, budget_bytes=2 ** 33, cache_dir=tmp_path) is engine
    with pytest.raises(ValueError, match="budget"):
        pool.choose(scene, 4, seed=9, budget_bytes=0, cache_dir=tmp_path)


def test_evicts_the_least_recently_used(scene):
    pool = EnginePool(max_engines=2)
    one, two = pool.get("ad", scene, 1), pool.get("ad", scene, 2)
    assert pool.get("ad", scene, 1) is one  # now 2 is the least recently used
    three = pool.get("ad", scene, 3)
    assert len(pool) == 2 and pool.evictions == 1
    assert pool.key("ad", scene, 2) not in pool and pool.key("ad", scene, 1) in pool
    assert pool.get("ad", scene, 1) is one and pool.get("ad", scene, 3) is three
    assert pool.get("ad", scene, 2) is not two  # built again
    assert pool.builds == 4 and pool.clear() == 2 and len(pool) == 0


def test_evicts_by_memory_but_keeps_the_engine_just_built(scene, tmp_path):
    first = EnginePool().get("transport", scene, 4, seed=5, cache_dir=tmp_path)
    pool = EnginePool(memory_bytes=first.nbytes + 1)
    a = pool.get("transport", scene, 4, seed=5, cache_dir=tmp_path)
    b = pool.get("transport", scene, 4, seed=6, cache_dir=tmp_path)
    assert pool.evictions == 1 and len(pool) == 1 and pool.nbytes == b.nbytes
    assert pool.key("transport", scene, 4, 5, cache_dir=tmp_path) not in pool
    assert pool.get("transport", scene, 4, seed=6, cache_dir=tmp_path) is b
    assert a.from_cache and np.allclose(a.relight(np.full(SHAPE, 0.5)), first.relight(np.full(SHAPE, 0.5)))


def test_subset_renderer_of_several_views(scene):
    pool = EnginePool()
    other = build_scene(scene.heightmap, SceneSpec(width=32, height=32, roughness=0.2,
                                                   camera=CameraSpec(elevation_deg=30)),
                        envmap=constant_envmap(0.5, SHAPE))
    R = pool.get("subset", [scene, other], 2, params=("envmap", "roughness"))
    assert isinstance(R, SubsetRenderer) and len(R.scenes) == 2
    assert pool.get("subset", [scene, other], 2, params=("envmap", "roughness")) is R
    assert pool.get("subset", [scene, other], 2) is not R  # other parameters
    assert pool.get("subset", [scene], 2) is not R


def test_relight_lamps_fit_and_judging_go_through_the_session_pool(feed_marks_npz, tmp_path):
    """A relight, then a lamps step, on the same scene: one transport build, then a hit;
    the relight command's engine, fit's subset renderer and the judging renders are the
    pool's too."""
    from scratchlight.lamps.objective import LinearLight, RigObjective
    from scratchlight.renders import RelightConfig, relight_engine
    from scratchlight.session import Session
    from scratchlight.surface import SurfaceConfig

    session = Session(SurfaceConfig(str(feed_marks_npz)), SceneSpec(width=24, height=24),
                      envmap=constant_envmap(0.5, SHAPE))
    pool = session.engine_pool
    E = np.full(SHAPE + (1,), 0.4, np.float32)
    image = session.relight(E, "transport", 4, 0)
    assert pool.stats()[:3] == (1, 0, 0)
    lamps_engine = session.transport_engine(4, 0, SHAPE)   # what run_lamps asks for
    assert pool.stats()[:3] == (1, 1, 0)
    light = LinearLight.from_engine(lamps_engine)
    assert np.allclose(light.image(E[..., 0]), image, rtol=1e-5, atol=1e-7)
    assert np.isfinite(RigObjective(light, session.mask)(E[..., 0], grad=False).loss)

    cfg = RelightConfig(engine="transport", spp=4, cache_dir=str(tmp_path))
    single, choice = relight_engine(session, cfg, progress=False)
    assert choice is None and single.T is not None and pool.builds == 2
    assert relight_engine(session, cfg, progress=False)[0] is single and pool.builds == 2

    views = [session.scene_spec.camera, CameraSpec(elevation_deg=30, azimuth_deg=90)]
    R = session.subset_renderer(views, spp=2, params=("envmap",))
    assert R.scenes[0] is session.scene and pool.builds == 3
    assert session.subset_renderer(views, spp=2, params=("envmap",)) is R and pool.builds == 3

    session.render_final(E, spp=4, seed=1)
    judge = session.engine("ad", 16)
    assert pool.builds == 4 and judge is pool.get("ad", session.scene, 16)
    assert session.drop_engines() == 4 and len(pool) == 0

"""Both engines implement the protocol of engines.base: members, signatures, relight."""
import inspect

import numpy as np
import pytest

from scratchlight.engines import ADEngine, Engine, TransportEngine
from scratchlight.scene import SceneSpec, build_scene
from scratchlight.surface import synthesize

ENV = (8, 16)
METHODS = ("render", "backprop", "render_progressive", "relight")


@pytest.fixture(scope="module")
def tiny_scene():
    """16 x 16 image of a small turned surface with one scratch, under a gray map."""
    hm = synthesize("turning", size=32, seed=0, scratches=1)
    return build_scene(hm, SceneSpec(width=16, height=16, roughness=0.2),
                       envmap=np.full(ENV + (1,), 0.5, np.float32))


@pytest.fixture(scope="module")
def engines(tiny_scene, tmp_path_factory):
    return {"ad": ADEngine(tiny_scene, spp=4),
            "transport": TransportEngine(tiny_scene, spp=4,
                                         cache_dir=tmp_path_factory.mktemp("transport"))}


@pytest.mark.parametrize("name", ["ad", "transport"])
def test_engines_satisfy_the_protocol(engines, name):
    engine = engines[name]
    assert isinstance(engine, Engine)
    assert engine.name == name
    for method in METHODS:
        want = list(inspect.signature(getattr(Engine, method)).parameters.values())[1:]
        got = inspect.signature(getattr(engine, method)).parameters
        # the protocol's required parameters come first, in its order; every parameter of
        # the protocol exists with its default (an engine may add options of its own)
        required = [p.name for p in want if p.default is inspect.Parameter.empty]
        assert list(got)[:len(required)] == required, method
        for p in want:
            assert p.name in got and got[p.name].default == p.default, (method, p.name)


def test_a_plain_object_is_not_an_engine():
    assert not isinstance(object(), Engine)


@pytest.mark.parametrize("channels", [1, 3])
def test_ad_relight_is_the_seed_0_render(engines, channels):
    ad = engines["ad"]
    E = np.random.default_rng(channels).random(ENV + (channels,)).astype(np.float32)
    image = ad.relight(E)
    assert image.dtype == np.float32 and image.shape == (16, 16, 3)
    assert image.mean() > 0
    np.testing.assert_array_equal(image, ad.render(E, seed=0))
    np.testing.assert_array_equal(image, ad.relight(E))  # deterministic


@pytest.mark.parametrize("channels", [1, 3])
def test_transport_render_progressive_is_relight(engines, channels):
    tr = engines["transport"]
    E = np.random.default_rng(10 + channels).random(ENV + (channels,)).astype(np.float32)
    image = tr.relight(E)
    assert image.dtype == np.float32 and image.shape == (16, 16, 3)
    assert image.mean() > 0
    np.testing.assert_array_equal(tr.render_progressive(E, 64), image)
    np.testing.assert_array_equal(tr.render_progressive(E, 8, seed=3, progress=False), image)
    np.testing.assert_array_equal(tr.render(E, seed=5), image)


@pytest.mark.parametrize("name", ["ad", "transport"])
def test_backprop_has_the_shape_and_dtype_of_the_rendered_map(engines, name):
    engine = engines[name]
    for shape, channels in ((ENV, 1), (ENV + (1,), 1), (ENV + (3,), 3)):
        E = np.full(shape, 0.5, np.float32)
        image = engine.render(E, seed=2, grad=True)
        assert image.dtype == np.float32 and image.shape == (16, 16, 3)
        grad = engine.backprop(np.ones_like(image))
        assert grad.dtype == np.float64 and grad.shape == ENV + (channels,)
    with pytest.raises(RuntimeError):
        engine.backprop(np.ones((16, 16, 3)))

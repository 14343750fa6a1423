"""The transport engine's warm-up: a run's first iterations render with Mitsuba at low spp,
then T takes over (and the matched noise is calibrated there)."""
import numpy as np
import pytest

from scratchlight.engines import ADEngine, TransportEngine
from scratchlight.engines.transport import Warmup
from scratchlight.engines.transport.warmup import warmup_spp_for
from scratchlight.scene import SceneSpec, build_scene, constant_envmap
from scratchlight.surface import synthesize


@pytest.fixture(scope="module")
def scene():
    hm = synthesize("face-mill", size=48, scratches=2, seed=1)
    return build_scene(hm, SceneSpec(width=32, height=32), envmap=constant_envmap(0.5, (8, 16)))


def _dL_dI(image, seed):
    return np.random.default_rng(seed).standard_normal(image.shape).astype(np.float32)


def test_warmup_iterations_are_mitsuba_renders_then_T(scene, tmp_path):
    """With warmup=2 the first two gradient renders of a run and their gradients equal an
    AD engine's at the warm-up's spp (4 for an engine at 4: the floor) with the same seeds
    (the image to the bit); the third is T's half (noise 'none': exactly T_a E or T_b E by
    the seed's parity) and its gradient T^T dL/dI."""
    eng = TransportEngine(scene, spp=4, cache_dir=tmp_path, noise="none", warmup=2)
    assert eng.warmup.spp == 4
    ad = ADEngine(scene, spp=4)
    E = np.random.default_rng(0).uniform(0.2, 0.8, (8, 16, 1)).astype(np.float32)
    eng.begin_run(E, seed=7)
    for seed in (11, 12):
        # one render-backprop pair at a time: both engines drive the one Mitsuba scene
        image = eng.render(E, seed=seed, grad=True)
        g = _dL_dI(image, seed)
        grad = eng.backprop(g)
        np.testing.assert_array_equal(image, ad.render(E, seed=seed, grad=True))
        # float32 atomic adds in the threads' order: equal to rounding of the largest terms
        np.testing.assert_allclose(grad, ad.backprop(g), rtol=1e-5,
                                   atol=1e-5 * np.abs(grad).max())
        assert np.abs(grad).max() > 0
    image = eng.render(E, seed=13, grad=True)
    np.testing.assert_array_equal(image, eng.halves[1].apply(E))
    g = _dL_dI(image, 13)
    np.testing.assert_allclose(eng.backprop(g), eng.halves[0].apply_transpose(g, 1), rtol=1e-6)
    assert eng.warmup.seconds > 0


def test_warmup_counts_from_the_runs_first_iteration(scene, tmp_path):
    """Outside a run every gradient render uses T; a run resumed at iteration 1 of a
    2-iteration warm-up has one Mitsuba iteration left, one resumed at 2 none; a new run
    starts the count again."""
    eng = TransportEngine(scene, spp=4, cache_dir=tmp_path, noise="none", warmup=2)
    E = np.full((8, 16, 1), 0.5, np.float32)

    def uses_T(seed):
        image = eng.render(E, seed=seed, grad=True)
        eng.backprop(np.zeros_like(image))
        return np.array_equal(image, eng.halves[seed % 2].apply(E))

    assert uses_T(3) and uses_T(4)               # no begin_run: no warm-up
    eng.begin_run(E, seed=0, resume=True, first_iteration=1)
    assert [uses_T(s) for s in (5, 6)] == [False, True]
    eng.begin_run(E, seed=0, resume=True, first_iteration=2)
    assert uses_T(7)
    eng.begin_run(E, seed=0)
    assert [uses_T(s) for s in (8, 9, 10)] == [False, False, True]
    eng.set_warmup(0)
    eng.begin_run(E, seed=0)
    assert uses_T(11)


def test_matched_noise_is_calibrated_at_the_first_iteration_on_T(scene, tmp_path):
    """With a warm-up the noise model waits: no calibration at begin_run, then one at the
    map of the first iteration that uses T (its I0 is the halves' mean image there); a
    resumed run keeps it. Without a warm-up it calibrates at E0 as before."""
    eng = TransportEngine(scene, spp=4, cache_dir=tmp_path, warmup=1)
    E0 = np.full((8, 16, 1), 0.5, np.float32)
    E1 = np.full((8, 16, 1), 0.3, np.float32)
    eng.begin_run(E0, seed=0)
    assert eng.noise_model.sd is None
    eng.backprop(np.zeros_like(eng.render(E0, seed=1, grad=True)))
    assert eng.noise_model.sd is None
    eng.render(E1, seed=2, grad=True)
    assert eng.noise_model.sd is not None
    np.testing.assert_allclose(eng.noise_model.I0, eng.relight(E1), rtol=1e-5, atol=1e-7)
    sd = eng.noise_model.sd
    eng.begin_run(E0, seed=0, resume=True, first_iteration=2)
    assert eng.noise_model.sd is sd
    plain = TransportEngine(scene, spp=4, cache_dir=tmp_path, warmup=0)
    plain.begin_run(E0, seed=0)
    np.testing.assert_allclose(plain.noise_model.I0, plain.relight(E0), rtol=1e-5, atol=1e-7)


def test_warmup_spp_is_a_quarter_of_the_runs_but_at_least_4(scene, tmp_path):
    """A quarter of the run's spp, never below 4 (a 1-spp warm-up misleads a 4-spp run at
    512^2), nor above the run's own spp when it has fewer."""
    runs = (1, 2, 3, 4, 5, 8, 15, 16, 17, 20, 64, 256)
    assert [warmup_spp_for(n) for n in runs] == [1, 2, 3, 4, 4, 4, 4, 4, 4, 5, 16, 64]
    assert TransportEngine(scene, spp=4, cache_dir=tmp_path).warmup.spp == 4
    assert TransportEngine(scene, spp=8, cache_dir=tmp_path, warmup_spp=3).warmup.spp == 3


def test_warmup_refuses_bad_values(scene, tmp_path):
    with pytest.raises(ValueError, match="warm-up iterations"):
        Warmup(scene, iterations=-1)
    with pytest.raises(ValueError, match="warm-up spp"):
        TransportEngine(scene, spp=4, cache_dir=tmp_path, warmup=3, warmup_spp=0)

"""The transport engine from a uniform start (issue 12, part 1): with noise matching it
reaches the AD engine's judged objective; without it, it stalls in a worse optimum."""
import numpy as np
import pytest

from scratchlight.engines import ADEngine, TransportEngine
from scratchlight.objectives import scratch_objective
from scratchlight.optimize import LightConfig, OptimizerConfig, optimize_light
from scratchlight.scene import SceneSpec, build_scene, constant_envmap
from scratchlight.surface import synthesize

PAPER, SIXTY = LightConfig(lam=30.0), OptimizerConfig(iterations=60)  # lambda 30, 60 steps

@pytest.fixture(scope="module")
def face_mill():
    hm = synthesize("face-mill", size=64, scratches=2, seed=0)
    return build_scene(hm, SceneSpec(width=64, height=64), envmap=constant_envmap(0.5, (25, 50)))


def _judged(scene, judge, E):
    """The objective (lambda 30) of E on one 128-spp Mitsuba render, the same seed for all."""
    image = judge.render_progressive(E, spp=128, seed=31337)
    return scratch_objective(image, E, scene.object_mask, lam=30.0).loss


@pytest.mark.slow
def test_matched_noise_reaches_the_ad_objective_from_a_constant_start(face_mill, tmp_path):
    """From constant 0.5 (the default start), 60 iterations at 16 spp, seeds 0-2: the median
    judged objective of the noise-matched transport runs is within 10 % of the AD runs',
    the deterministic one ('none', seed 0) at least 1.5 x above it. Measured over seeds 0-7:
    matched / AD per seed 0.93-1.12 (mean 1.01; medians of seeds 0-2: 0.96), none / AD
    ~2.9. A single seed can land 12 % off either way, a stall (~3 x) fails by far."""
    E0 = np.full((25, 50, 1), 0.5, np.float32)
    judge = ADEngine(face_mill)
    matched = TransportEngine(face_mill, spp=16, cache_dir=tmp_path)
    runs = {"ad": [], "matched": []}
    for seed in (0, 1, 2):
        for name, engine in (("ad", ADEngine(face_mill, spp=16)), ("matched", matched)):
            res = optimize_light(engine, E0, face_mill.object_mask, PAPER, SIXTY, seed=seed)
            runs[name].append(_judged(face_mill, judge, res.envmap))
    none = TransportEngine(face_mill, spp=16, cache_dir=tmp_path, noise="none", warmup=0)
    stalled = _judged(face_mill, judge, optimize_light(none, E0, face_mill.object_mask, PAPER,
                                                       SIXTY, seed=0).envmap)
    ad = float(np.median(runs["ad"]))
    assert float(np.median(runs["matched"])) <= 1.10 * ad, runs
    assert stalled >= 1.5 * ad, (stalled, runs)


def test_noise_option(face_mill, tmp_path):
    """'matched' perturbs gradient renders only after begin_run, with noise measured at E0;
    plain renders stay T E; unknown modes are refused."""
    eng = TransportEngine(face_mill, spp=4, cache_dir=tmp_path, warmup=0)
    E = np.full((25, 50, 1), 0.5, np.float32)
    clean = eng.render(E, seed=2, grad=True)
    eng.backprop(np.zeros_like(clean))
    np.testing.assert_array_equal(clean, eng.halves[0].apply(E))  # not calibrated yet
    eng.begin_run(E, seed=0)
    a, b = eng.render(E, seed=2, grad=True), eng.render(E, seed=4, grad=True)
    assert not np.array_equal(a, clean) and not np.array_equal(a, b)  # fresh noise
    m = face_mill.object_mask
    assert abs(a[m].mean() - clean[m].mean()) < 0.01 * clean[m].mean()  # zero-mean noise
    np.testing.assert_array_equal(eng.relight(E), TransportEngine(
        face_mill, spp=4, cache_dir=tmp_path, noise="none").relight(E))
    with pytest.raises(ValueError, match="noise"):
        TransportEngine(face_mill, spp=4, cache_dir=tmp_path, noise="loud")


def test_perturb_adds_the_calibrated_variance(face_mill, tmp_path):
    """At the calibration image I0 the added noise has the calibrated sd per pixel; it
    scales with the image (2 I0: twice the sd), and it is float32 and zero-mean."""
    eng = TransportEngine(face_mill, spp=4, cache_dir=tmp_path, warmup=0)
    E = np.full((25, 50, 1), 0.5, np.float32)
    eng.begin_run(E, seed=0)
    model = eng.noise_model
    I0 = model.I0.astype(np.float32)
    sel = (model.sd > 1e-4) & (model.I0 > 1e-3)
    assert sel.sum() > 100
    for factor in (1.0, 2.0):
        draws = np.stack([model.perturb(factor * I0, s) - factor * I0 for s in range(400)])
        assert draws.dtype == np.float32
        ratio = draws.std(axis=0)[sel] / (factor * model.sd[sel])
        assert np.median(ratio) == pytest.approx(1.0, abs=0.05)
        assert abs(draws.mean(axis=0)[sel].mean()) < 0.1 * model.sd[sel].mean()


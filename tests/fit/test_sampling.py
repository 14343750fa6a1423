"""Pixel samplers and pixel-subset rendering: probabilities, weights, unbiased gradients."""
import numpy as np
import pytest

from scratchlight.errors import InputError
from scratchlight.fit.sampling import (SAMPLINGS, budget_count, make_sampler, multiresolution,
                                       second_moment)

SHAPE = (2, 12, 10)


def _maps(seed=0):
    rng = np.random.default_rng(seed)
    p1 = rng.exponential(size=SHAPE) * (rng.random(SHAPE) > 0.5)   # many exact zeros
    p2 = rng.exponential(size=SHAPE)
    return p1, p2


@pytest.mark.parametrize("name", SAMPLINGS)
def test_probabilities_positive_and_normalised(name):
    support = np.ones(SHAPE, bool)
    support[0, :3] = False
    s = make_sampler(name, SHAPE, 0.2, support=support)
    if s.needs_maps:
        s.update(*_maps())
    p = s.probabilities
    assert p.shape == SHAPE
    assert np.isclose(p.sum(), 1.0, rtol=0, atol=1e-12)
    assert (p[support] > 0).all() and (p[~support] == 0).all()
    idx, w = s.draw(np.random.default_rng(1))
    assert support.ravel()[idx].all()
    if name == "full":
        assert idx.size == support.sum() and np.all(w == 1)
    else:
        assert idx.size == budget_count(0.2, int(support.sum()))
        np.testing.assert_allclose(w, 1.0 / (idx.size * p.ravel()[idx]))


@pytest.mark.parametrize("name", ["uniform", "grad", "adaptive"])
def test_weighted_draws_are_unbiased(name):
    """E[sum_k w_k f(j_k)] = sum_j f(j) for any f: the estimator identity itself."""
    s = make_sampler(name, SHAPE, 0.1)
    if s.needs_maps:
        s.update(*_maps(3))
    f = np.random.default_rng(4).normal(size=SHAPE).ravel()
    rng = np.random.default_rng(5)
    est = np.array([np.sum(w * f[i]) for i, w in (s.draw(rng) for _ in range(4000))])
    assert abs(est.mean() - f.sum()) < 4.5 * est.std() / np.sqrt(est.size)


def test_floor_bounds_probabilities():
    s = make_sampler("adaptive", SHAPE, 0.1, floor=0.25)
    p1 = np.zeros(SHAPE)
    p1[0, 0, 0] = 1.0
    s.update(p1, np.ones(SHAPE))
    assert s.probabilities.min() >= 0.25 / np.prod(SHAPE) * (1 - 1e-12)


def test_multiresolution_levels():
    q = np.zeros((1, 8, 8))
    q[0, 0, 0] = 16.0
    # level 0 alone is the map itself
    np.testing.assert_allclose(multiresolution(q, levels=0), q)
    m = multiresolution(q, levels=2, base=4.0)
    # pixel (0,0): 16 + 4 * 16/4 + 16 * 16/16; pixel (1,1): 0 + 4 * 4 + 16 * 1
    assert m[0, 0, 0] == pytest.approx(16 + 16 + 16)
    assert m[0, 1, 1] == pytest.approx(16 + 16)
    assert m[0, 3, 3] == pytest.approx(16)
    assert m[0, 7, 7] == 0.0


def test_second_moment_rescales_variance():
    rng = np.random.default_rng(0)
    mu, sigma = 0.5, 2.0            # one-sample mean and standard deviation
    x = rng.normal(mu, sigma, size=(20000, 1, 1))
    # at ratio 1 it is the plain second moment; at ratio 1/8 the second moment of an
    # 8-sample mean
    assert second_moment(x, 1.0)[0] == pytest.approx(mu ** 2 + sigma ** 2, rel=0.05)
    assert second_moment(x, 1 / 8)[0] == pytest.approx(mu ** 2 + sigma ** 2 / 8, rel=0.1)


def test_bad_options():
    with pytest.raises(InputError, match="fit.sampling"):
        make_sampler("importance", SHAPE)
    for bad in (0, -0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="fit.budget"):
            make_sampler("uniform", SHAPE, bad)


# ---- rendering ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    """16 x 16 image, 8 x 16 gray envmap, rough aluminium feed marks."""
    import scratchlight as sl
    from scratchlight.engines.subset import SubsetRenderer

    from surface_helpers import feed_marks

    rng = np.random.default_rng(0)
    E = rng.uniform(0.1, 1.0, (8, 16, 1)).astype(np.float32)
    hm = sl.prepare(feed_marks(33, 33))
    scene = sl.build_scene(hm, sl.SceneSpec(width=16, height=16, roughness=0.2), envmap=E)
    return SubsetRenderer(scene, spp=2, params=("envmap", "roughness")), E


@pytest.mark.slow
def test_subset_pixels_match_full_render(tiny):
    R, E = tiny
    full = R.render_views(E, 0.2, seed=1, spp=256)[0].reshape(-1, 3)
    idx = np.array([0, 17, 17, 100, 255, 137])
    sub = R.render(idx, E, 0.2, seed=2, spp=256)
    np.testing.assert_allclose(sub, full[idx], atol=0.05, rtol=0.1)


@pytest.mark.slow
def test_frozen_render_equals_traced_render(tiny):
    """The replayed (dr.freeze) primal and adjoint passes give the traced results, for new
    indices, batch sizes, seeds, light and roughness on every call."""
    from scratchlight.engines.subset import SubsetRenderer

    R, _ = tiny
    traced = SubsetRenderer(R.scenes, spp=2, params=("envmap", "roughness"), freeze=False)
    assert R.freeze and not traced.freeze
    rng = np.random.default_rng(3)
    for k, K in enumerate((40, 40, 97, 40)):
        E = rng.uniform(0.05, 1.0, (8, 16, 1)).astype(np.float32)
        alpha = float(rng.uniform(0.1, 0.4))
        idx = rng.integers(0, R.n_pixels, K)
        g = rng.normal(size=(K, 3))
        a = R.render(idx, E, alpha, seed=10 + k, grad=True)
        ga = R.backprop(g)
        b = traced.render(idx, E, alpha, seed=10 + k, grad=True)
        gb = traced.backprop(g)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(ga["envmap"], gb["envmap"], rtol=1e-4,
                                   atol=1e-5 * np.abs(gb["envmap"]).max())
        assert ga["roughness"] == pytest.approx(gb["roughness"], rel=1e-4, abs=1e-6)
    assert R.freeze and not R._unfreezable  # no fallback to tracing happened


def test_freeze_switch_from_the_environment(tiny, monkeypatch):
    from scratchlight.engines.subset import SubsetRenderer

    R, _ = tiny
    monkeypatch.setenv("SCRATCHLIGHT_FREEZE", "0")
    assert not SubsetRenderer(R.scenes).freeze
    assert SubsetRenderer(R.scenes, freeze=True).freeze
    monkeypatch.setenv("SCRATCHLIGHT_FREEZE", "1")
    assert SubsetRenderer(R.scenes).freeze


@pytest.mark.slow
def test_frozen_adjoint_leaves_no_ad_state(tiny):
    """After a frozen adjoint pass the scene holds no differentiable leaves: a forward-mode
    pass (here of another scene) must not meet edges left behind by it."""
    import scratchlight as sl
    from scratchlight.engines.subset import SubsetRenderer
    from scratchlight.scene import CameraSpec

    R, E = tiny
    R.render(np.arange(64), E, 0.2, seed=1, grad=True)
    R.backprop(np.ones((64, 3)))
    other = sl.build_scene(R.scenes[0].heightmap,
                           sl.SceneSpec(width=16, height=16, roughness=0.2,
                                        camera=CameraSpec(azimuth_deg=90.0)), envmap=E)
    R2 = SubsetRenderer(other, spp=2, params=("envmap", "roughness"))
    v = {"envmap": np.ones_like(E), "roughness": 1.0}
    primal, jv = R2.directional_derivative(np.arange(64), E, 0.2, v, seed=2)
    assert np.isfinite(jv).all() and np.abs(jv).max() > 0


@pytest.mark.slow
def test_frozen_render_falls_back_to_tracing(tiny):
    """A backend where recording fails warns once and gives the traced results."""
    from scratchlight.engines.subset import SubsetRenderer

    R, E = tiny
    fragile = SubsetRenderer(R.scenes, spp=2, params=("envmap", "roughness"))
    fragile._make_frozen()

    def broken(*args):
        raise RuntimeError("record(): error encountered while recording a frozen function")

    fragile._frozen_backward = broken
    idx = np.arange(0, 256, 3)
    g = np.ones((idx.size, 3))
    fragile.render(idx, E, 0.2, seed=5, grad=True)
    with pytest.warns(RuntimeWarning, match="frozen backward"):
        got = fragile.backprop(g)
    R.render(idx, E, 0.2, seed=5, grad=True)
    want = R.backprop(g)
    np.testing.assert_allclose(got["envmap"], want["envmap"], rtol=1e-4,
                               atol=1e-5 * np.abs(want["envmap"]).max())
    assert fragile._unfreezable == {"backward"}


@pytest.mark.slow
def test_block_sample_pairs_are_independent_estimates(tiny):
    """The two estimates of a pair (one render, each pixel twice) scatter independently
    around the pixel's value."""
    R, E = tiny
    ref = R.render_views(E, 0.2, seed=9, spp=512)[0]
    primal, jvp = R.block_samples(E, 0.2, factor=1, spp=4, pairs=8, seed=3)
    assert primal.shape == jvp.shape == (16, 1, 16, 16, 3)
    a, b = primal[0::2, 0] - ref, primal[1::2, 0] - ref
    assert not np.array_equal(primal[0], primal[1])
    noisy = np.abs(a).mean(axis=(0, 3)) > 1e-4
    corr = np.sum(a * b) / np.sqrt(np.sum(a * a) * np.sum(b * b))
    assert abs(corr) < 0.15                       # independent noise
    se = np.sqrt((a.var(0, ddof=1) + b.var(0, ddof=1)) / 32)[noisy]  # of (mean a + mean b) / 2
    assert np.mean(((a.mean(0) + b.mean(0))[noisy] / 2) ** 2 / se ** 2) < 2.0  # unbiased


@pytest.mark.slow
def test_subset_gradients_are_unbiased(tiny):
    """Mean of many subset gradients = full gradient (fixed dL/dI), for every sampler.

    dL/dI is a fixed map (not a fresh primal), so full and subset estimate the same vector
    sum_j g_j dI_j/dtheta; both are Monte Carlo means compared with their standard errors.
    """
    from scratchlight.fit import FitConfig
    from scratchlight.fit.refresh import refresh_maps

    R, E = tiny
    n = R.n_pixels
    g = np.random.default_rng(7).normal(size=(n, 3)) * 1e-2
    g[: n // 2] *= 8.0               # heterogeneous importance

    def vec(out):
        return np.concatenate([np.ravel(out["envmap"]), [out["roughness"]]])

    full = []
    for s in range(16):
        R.render(np.arange(n), E, 0.2, seed=s, grad=True)
        full.append(vec(R.backprop(g)))
    full = np.array(full)
    target = np.zeros((n, 3))  # refresh_maps needs a target; p1 comes from it
    for name in ("uniform", "grad", "adaptive"):
        sampler = make_sampler(name, (1, 16, 16), 0.25)
        if sampler.needs_maps:
            refresh_maps(R, sampler, E, 0.2, target, FitConfig(spp=2), 0)
        rng = np.random.default_rng(11)
        est = []
        for s in range(120):
            idx, w = sampler.draw(rng)
            R.render(idx, E, 0.2, seed=1000 + s, grad=True)
            est.append(vec(R.backprop(g[idx] * w[:, None])))
        est = np.array(est)
        se = np.sqrt(est.var(0) / len(est) + full.var(0) / len(full))
        ok = se > 0
        z = (est.mean(0) - full.mean(0))[ok] / se[ok]
        assert np.mean(z ** 2) < 1.6, name      # chi^2 / dof over ~130 components
        assert np.abs(z).max() < 5.0, name


@pytest.mark.slow
def test_multi_view_index_set(tiny):
    import scratchlight as sl
    from scratchlight.engines.subset import SubsetRenderer, flat_index, unflat_index
    from scratchlight.scene import CameraSpec

    R1, E = tiny
    hm = R1.scenes[0].heightmap
    views = [sl.build_scene(hm, sl.SceneSpec(width=16, height=16, roughness=0.2,
                                             camera=CameraSpec(azimuth_deg=az)), envmap=E)
             for az in (0.0, 90.0)]
    R = SubsetRenderer(views, spp=2)
    assert R.n_pixels == 2 * 256
    full = R.render_views(E, seed=3, spp=128)
    idx = flat_index([0, 1, 1], [5, 5, 9], [3, 3, 12], 16, 16)
    v, r, c = unflat_index(idx, 16, 16)
    np.testing.assert_array_equal(v, [0, 1, 1])
    sub = R.render(idx, E, seed=4, spp=128)
    np.testing.assert_allclose(sub, full[v, r, c], atol=0.05, rtol=0.1)
    with pytest.raises(ValueError, match="indices"):
        R.render([512], E)


@pytest.mark.slow
def test_scratch_estimator_close_to_full(tiny):
    """The subset L_grad gradient matches the full-render one up to its (small) bias."""
    from scratchlight.objectives import scratch_objective
    from scratchlight.fit.scratch_estimator import scratch_sampler, subset_scratch_gradient

    R, E = tiny
    M = R.scenes[0].object_mask
    full = []
    for s in range(12):
        img = R.render_views(E, 0.2, seed=s, spp=2, grad=True)[0]
        o = scratch_objective(img, E, M)
        full.append(np.ravel(R.backprop(o.dL_dI[None])["envmap"]) + o.dL_dE.ravel())
    full = np.array(full)
    sampler = scratch_sampler("uniform", M, 0.5)
    rng = np.random.default_rng(2)
    est = np.array([subset_scratch_gradient(R, E, sampler, rng, M, seed=500 + s, roughness=0.2)
                    .grad.ravel() for s in range(60)])
    ref = full.mean(0)
    err = np.linalg.norm(est.mean(0) - ref)
    se = np.sqrt(np.sum(est.var(0) / len(est) + full.var(0) / len(full)))
    assert err < 3.0 * se + 0.05 * np.linalg.norm(ref)


def test_cost_aware_probabilities():
    """With a cost map the adapted part of p is importance / sqrt(cost)."""
    s = make_sampler("grad", (1, 2, 2), 0.5, floor=0.2)
    s.set_cost(np.array([[[1.0, 4.0], [1.0, 16.0]]]))
    s.update(np.ones((1, 2, 2)))
    q = np.array([1.0, 0.5, 1.0, 0.25])
    np.testing.assert_allclose(s.probabilities.ravel(), 0.8 * q / q.sum() + 0.2 / 4)
    with pytest.raises(ValueError):
        s.set_cost(np.zeros((1, 2, 2)))

"""The transport engine of issue 5: T E equals Mitsuba's render, exact gradients, the cache,
the relight command."""
import dataclasses
import os

import numpy as np
import pytest

from surface_helpers import feed_marks
from scratchlight.engines import ADEngine, TransportEngine, make_engine
from scratchlight.engines.transport import (TransportMatrix, build_transport,
                                            default_cache_dir, transport_key)
from scratchlight.scene import SceneSpec, build_scene

ENV = (8, 16)


@pytest.fixture(scope="module")
def copper_scene():
    """A colour metal, so that a gray map gives a coloured image (1 -> 3 channels)."""
    return build_scene(feed_marks(), SceneSpec(width=32, height=32, material="copper",
                                               roughness=0.15),
                       envmap=np.full(ENV + (1,), 0.5, np.float32))


def _stats(images):
    a = np.asarray(images, np.float64)
    return a.mean(0), a.var(0, ddof=1) / len(a)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.slow
def test_transport_equals_mitsuba_render(copper_scene, channels):
    """For a random light, T E agrees with mi.render of the same scene (path tracing with
    emitter sampling) up to Monte Carlo noise: the means agree within 2 %, the relative L1
    error is small, and per-pixel z-scores (both variances estimated from 8 independent
    seeds of each method) are distributed as noise, not bias."""
    rng = np.random.default_rng(10 + channels)
    E = rng.random(ENV + (channels,)).astype(np.float32)
    k, spp = 8, 64
    TE = [build_transport(copper_scene, spp=spp, seed=s).apply(E) for s in range(k)]
    ad = ADEngine(copper_scene)
    ref = [ad.render(E, seed=1000 + s, spp=spp) for s in range(k)]
    t_mean, t_var = _stats(TE)
    r_mean, r_var = _stats(ref)
    assert t_mean.shape == (32, 32, 3)
    if channels == 1:  # copper under a gray light: red above blue
        assert t_mean[..., 0].mean() > 1.1 * t_mean[..., 2].mean()
    rel_mean = abs(t_mean.mean() - r_mean.mean()) / r_mean.mean()
    rel_l1 = np.abs(t_mean - r_mean).sum() / r_mean.sum()
    assert rel_mean < 0.02
    assert rel_l1 < 0.03
    floor = (1e-3 * r_mean.mean()) ** 2
    z = (t_mean - r_mean) / np.sqrt(t_var + r_var + floor)
    assert np.mean(np.abs(z) > 3) < 0.03
    assert abs(z.mean()) < 0.15
    # one T at the total spp: the same agreement
    T = build_transport(copper_scene, spp=k * spp, seed=99)
    assert abs(T.apply(E).mean() - r_mean.mean()) / r_mean.mean() < 0.01


def _dense(T: TransportMatrix) -> np.ndarray:
    return np.stack([T.channel(c).toarray() for c in range(3)])  # (3, h*w, H*W)


@pytest.mark.parametrize("channels", [1, 3])
def test_backprop_is_transpose_and_matches_finite_differences(copper_scene, tmp_path, channels):
    rng = np.random.default_rng(20 + channels)
    eng = make_engine("transport", copper_scene, spp=16, seed=3, cache_dir=tmp_path,
                      decorrelate=False)
    assert isinstance(eng, TransportEngine)
    D = _dense(eng.T)
    E = rng.random(ENV + (channels,)).astype(np.float32)
    I = eng.render(E, seed=5, grad=True)
    e = E.reshape(-1, channels).astype(np.float64)
    expect = np.stack([D[c] @ e[:, c if channels == 3 else 0] for c in range(3)], -1)
    assert I.dtype == np.float32 and I.shape == (32, 32, 3)
    np.testing.assert_allclose(I.reshape(-1, 3), expect, rtol=1e-5, atol=1e-6)
    # render is deterministic: seed and spp do not change T E
    np.testing.assert_array_equal(eng.render(E, seed=77, spp=1), I)
    # backprop = T^T g (summed over R, G, B for a gray map)
    g = rng.standard_normal((32, 32, 3))
    eng.render(E, grad=True)
    grad = eng.backprop(g)
    assert grad.shape == E.shape
    gt = np.stack([D[c].T @ g.reshape(-1, 3)[:, c] for c in range(3)], -1)
    if channels == 1:
        gt = gt.sum(-1, keepdims=True)
    np.testing.assert_allclose(grad.reshape(-1, channels), gt, rtol=1e-4,
                               atol=1e-5 * np.abs(gt).max())
    with pytest.raises(RuntimeError):
        eng.backprop(g)  # needs a new render(..., grad=True)
    # finite differences of a smooth scalar function f(E) = sum(a * (T E)^2)
    a = rng.random((32, 32, 3))
    f = lambda X: float(np.sum(a * eng.render(X).astype(np.float64) ** 2))
    eng.render(E, grad=True)
    grad = eng.backprop(2 * a * I)
    flat = np.argsort(np.abs(grad).ravel())[-6:]  # texels that matter
    h = 0.05
    for i in flat:
        dE = np.zeros(E.size, np.float32)
        dE[i] = h
        dE = dE.reshape(E.shape)
        fd = (f(E + dE) - f(E - dE)) / (2 * h)
        assert fd == pytest.approx(grad.ravel()[i], rel=2e-3, abs=1e-4 * np.abs(grad).max())


def _matrices(folder):
    """The matrix files of a cache folder (beside them: one lock file per key)."""
    return sorted(f for f in os.listdir(folder) if f.endswith(".npz"))


def test_decorrelated_halves(copper_scene, tmp_path):
    """By default the primal image and the gradient come from two independent matrices,
    swapping roles with the seed's parity; plain renders average both."""
    eng = TransportEngine(copper_scene, spp=8, seed=1, cache_dir=tmp_path)
    a, b = eng.halves
    assert eng.T is None and a.spp == b.spp == 8 and a.seed != b.seed
    assert len(_matrices(tmp_path)) == 2
    rng = np.random.default_rng(0)
    E = rng.random(ENV + (1,)).astype(np.float32)
    g = rng.standard_normal((32, 32, 3))
    for seed, (p, q) in ((6, (a, b)), (7, (b, a))):
        np.testing.assert_array_equal(eng.render(E, seed=seed, grad=True), p.apply(E))
        np.testing.assert_array_equal(eng.backprop(g), q.apply_transpose(g, 1))
    mean = 0.5 * (a.apply(E) + b.apply(E))
    np.testing.assert_allclose(eng.render(E), mean, rtol=1e-6)
    np.testing.assert_allclose(eng.relight(E), mean, rtol=1e-6)
    np.testing.assert_allclose(eng.render_progressive(E, spp=256, seed=4), mean, rtol=1e-6)
    assert not np.allclose(a.apply(E), b.apply(E))  # independent noise
    with pytest.raises(ValueError):
        eng.render(np.ones((4, 8, 1), np.float32))  # wrong envmap size
    again = TransportEngine(copper_scene, spp=8, seed=1, cache_dir=tmp_path)
    assert again.from_cache and eng.nbytes == a.nbytes + b.nbytes


def test_cache_reuses_and_keys_on_the_scene(copper_scene, tmp_path, monkeypatch):
    first = TransportEngine(copper_scene, spp=8, seed=2, cache_dir=tmp_path, decorrelate=False)
    assert not first.from_cache and first.T.build_seconds > 0
    files = _matrices(tmp_path)
    assert files == [f"T-{first.T.key}.npz"]
    second = TransportEngine(copper_scene, spp=8, seed=2, cache_dir=tmp_path, decorrelate=False)
    assert second.from_cache
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(first.T, name), getattr(second.T, name))
    assert second.T.image_shape == (32, 32) and second.T.envmap_shape == ENV
    # every input of T changes the key
    key = transport_key(copper_scene, 8, 2)
    assert key == first.T.key
    assert transport_key(copper_scene, 16, 2) != key
    assert transport_key(copper_scene, 8, 3) != key
    spec2 = dataclasses.replace(copper_scene.spec, roughness=0.2)
    assert transport_key(dataclasses.replace(copper_scene, spec=spec2), 8, 2) != key
    hm = copper_scene.heightmap
    h2 = hm.heights.copy()
    h2[5, 5] += 1e-9
    assert transport_key(dataclasses.replace(copper_scene, heightmap=hm.replace(heights=h2)),
                         8, 2) != key
    assert transport_key(dataclasses.replace(copper_scene, envmap_shape=(8, 32)), 8, 2) != key
    # a damaged cache file is rebuilt, not trusted
    path = tmp_path / files[0]
    path.write_bytes(b"not an npz")
    third = TransportEngine(copper_scene, spp=8, seed=2, cache_dir=tmp_path, decorrelate=False)
    assert not third.from_cache  # the same T again (atomic float sums: up to rounding)
    np.testing.assert_array_equal(third.T.indices, first.T.indices)
    np.testing.assert_allclose(third.T.data, first.T.data, rtol=1e-5, atol=1e-9)
    assert TransportMatrix.load(path).key == key
    # the default folder follows $SCRATCHLIGHT_CACHE
    monkeypatch.setenv("SCRATCHLIGHT_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == str(tmp_path / "root" / "transport")
    # cache_dir=False: no file at all
    TransportEngine(copper_scene, spp=4, seed=2, cache_dir=False, decorrelate=False)
    assert not (tmp_path / "root").exists()


def test_matrix_layout_and_sizes(copper_scene):
    """T is row-compressed (one row per pixel, uint16 texel indices) with texels increasing
    in each row, and equals the row-major pieces it was built from."""
    T = build_transport(copper_scene, spp=8, seed=0)
    assert T.indices.dtype == np.uint16 and T.indptr.dtype == np.int32
    assert T.indptr.shape == (32 * 32 + 1,)
    assert T.data.shape == (3, T.nnz) and T.data.dtype == np.float32
    assert (T.data >= 0).all() and T.nnz_per_pixel >= 4
    assert T.bytes_per_pixel == pytest.approx(T.nbytes / 1024)
    assert T.nbytes == T.indptr.nbytes + 14 * T.nnz
    for p in range(0, 32 * 32, 7):
        row = T.indices[T.indptr[p]:T.indptr[p + 1]]
        assert (np.diff(row.astype(int)) > 0).all()
    D = _dense(T)
    rows, cols = np.nonzero(D.sum(0))
    counts = np.bincount(rows, minlength=1024)
    R = TransportMatrix.from_rows(counts, cols, D[:, rows, cols].astype(np.float32),
                                  image_shape=(32, 32), envmap_shape=ENV, spp=8)
    np.testing.assert_array_equal(R.indptr, T.indptr)
    np.testing.assert_array_equal(R.indices, T.indices)
    np.testing.assert_array_equal(R.data, T.data)


def test_numba_rows_equal_scipy_sum_and_rebuild_is_bit_identical(copper_scene):
    """The numba row sums give scipy's sparse sum of the same paths (an independent route),
    and a rebuild with the same seed gives the very same bits."""
    a = build_transport(copper_scene, spp=8, seed=4, pixels_per_chunk=300)
    b = build_transport(copper_scene, spp=8, seed=4, method="scipy", pixels_per_chunk=300)
    np.testing.assert_array_equal(a.indptr, b.indptr)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-6, atol=1e-12)
    again = build_transport(copper_scene, spp=8, seed=4, pixels_per_chunk=300)
    np.testing.assert_array_equal(again.data, a.data)
    assert a.nnz > 0


def test_paths_to_rows_by_hand():
    """Two pixels of two paths on a 2 x 3 map: the bilinear weights, a shared texel summed,
    a path that did not escape ignored, a zero-weight corner dropped, texels in order."""
    from scratchlight.engines.transport.rows import paths_to_rows

    escaped = np.array([True, True, False, True])
    thr = np.array([[1.0, 2.0, 9.0, 4.0], [0.5, 0.5, 9.0, 0.0], [0.0, 1.0, 9.0, 1.0]], np.float32)
    # path 0: texel 1, right 2, down 4, down-right 5 at fu=0.25, fv=0.5
    # path 1: texel 2 wrapping right to 0 (dj = -2), the bottom row clamped (di = 0), fu=0.5, fv=0
    # path 3 (pixel 1): texel 4, fu = fv = 0: all of it on texel 4
    t00 = np.array([1, 2, 0, 4], np.uint32)
    di = np.array([3, 0, 0, 0], np.int32)
    dj = np.array([1, -2, 0, 1], np.int32)
    fu = np.array([0.25, 0.5, 0.0, 0.0], np.float32)
    fv = np.array([0.5, 0.0, 0.0, 0.0], np.float32)
    counts, texels, values = paths_to_rows(escaped, thr, t00, di, dj, fu, fv, spp=2, n_texels=6)
    np.testing.assert_array_equal(counts, [5, 1])
    np.testing.assert_array_equal(texels, [0, 1, 2, 4, 5, 4])
    r0 = np.array([1.0, 0.5, 0.0])
    r1 = np.array([2.0, 0.5, 1.0])
    want = np.stack([
        r1 * 0.5,                          # texel 0: path 1's right corner, wrapped
        r0 * 0.75 * 0.5,                   # texel 1
        r0 * 0.25 * 0.5 + r1 * 0.5,        # texel 2: path 0's right + path 1's top-left
        # (path 1's clamped lower row adds its fv = 0 weights to the same texels: nothing)
        r0 * 0.75 * 0.5,                   # texel 4
        r0 * 0.25 * 0.5,                   # texel 5
        np.array([4.0, 0.0, 1.0]),         # pixel 1: texel 4 alone
    ], axis=1)
    np.testing.assert_allclose(values, want, rtol=1e-6)
    np.testing.assert_array_equal(paths_to_rows(escaped, thr, t00, di, dj, fu, fv, spp=2,
                                                n_texels=6, count_only=True), [5, 1])


def test_relight_command_builds_then_reuses_the_cache(feed_marks_npz, tmp_path, capsys):
    from scratchlight.cli import main
    from scratchlight.io import write_exr

    env = tmp_path / "light.exr"
    write_exr(str(env), np.random.default_rng(1).random((8, 16, 3)).astype(np.float32))
    cache = tmp_path / "cache"
    args = [str(feed_marks_npz), "--envmap", str(env), "--resolution", "16", "--spp", "4",
            "--cache-dir", str(cache), "--repeat", "2"]
    assert main(["relight", *args, "--out", str(tmp_path / "a.png"),
                 "--exr", str(tmp_path / "a.exr")]) == 0
    first = capsys.readouterr().out
    assert "built in" in first and "ms per environment map" in first
    assert len(_matrices(cache)) == 1
    assert main(["relight", *args, "--out", str(tmp_path / "b.png")]) == 0
    assert "loaded from cache" in capsys.readouterr().out
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    # user mistakes: one line, exit code 2, no output file
    bad = tmp_path / "bad.png"
    assert main(["relight", *args[:1], "--envmap", str(tmp_path / "missing.exr"),
                 "--out", str(bad)]) == 2
    assert main(["relight", *args, "--out", str(bad), "--repeat", "0"]) == 2
    assert main(["relight", *args, "--out", str(tmp_path / "x.jpg")]) == 2
    err = capsys.readouterr().err
    assert "missing.exr" in err and "--repeat" in err
    assert not bad.exists()

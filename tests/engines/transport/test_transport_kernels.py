"""The threaded products of the transport matrix (issue 12, part 3) against an independent
scipy.sparse reference built from the same arrays: T E for gray and RGB maps, the fused mean
of two halves, T^T G, empty rows and columns, int64 row pointers, int32 texel indices; bad
arrays are refused; the kernels run from several threads and beside Mitsuba's LLVM."""
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from scratchlight.engines.transport import TRANSPORT_VERSION, TransportMatrix, mean_apply

SRC = Path(__file__).resolve().parents[3] / "src"


def _pieces(rng, n_pix, texels, max_per_row=9, empty_rows=(), empty_cols=()):
    """Row-major pieces of a random T: counts (n_pix,), texels increasing in each row,
    data (3, nnz) float32; the listed rows and texel columns have no non-zero."""
    allowed = np.setdiff1d(np.arange(texels), np.asarray(empty_cols, int))
    counts = rng.integers(0, max_per_row + 1, n_pix)
    counts[list(empty_rows)] = 0
    counts = np.minimum(counts, allowed.size)
    tex = [np.sort(rng.choice(allowed, c, replace=False)) for c in counts]
    tex = np.concatenate(tex) if tex else np.zeros(0, int)
    data = rng.random((3, tex.size)).astype(np.float32)
    return counts, tex, data


def _matrix(rng, image=(6, 7), env=(3, 5), **kw):
    """(T, refs): a TransportMatrix and per channel a scipy CSR matrix of the same numbers
    (made from the pieces, not from T's arrays)."""
    h, w = image
    counts, tex, data = _pieces(rng, h * w, env[0] * env[1], **kw)
    T = TransportMatrix.from_rows(counts, tex, data, image_shape=image, envmap_shape=env, spp=1)
    rows = np.repeat(np.arange(h * w), counts)
    refs = [sp.csr_matrix((data[c].astype(np.float64), (rows, tex)),
                          shape=(h * w, env[0] * env[1])) for c in range(3)]
    return T, refs


def _image(refs, E):
    """Reference T E, (n, 3) float64; a gray map drives all three channels."""
    e = E.reshape(refs[0].shape[1], -1).astype(np.float64)
    return np.stack([refs[c] @ e[:, c if e.shape[1] == 3 else 0] for c in range(3)], 1)


def _close(a, b):
    """Equal up to float32 rounding of sums of a few positive terms."""
    np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-6 * max(1.0, np.abs(b).max()))


@pytest.mark.parametrize("channels", [1, 3])
def test_apply_equals_scipy(channels):
    rng = np.random.default_rng(channels)
    T, refs = _matrix(rng, empty_rows=(0, 5, 41), empty_cols=(0, 7))
    assert T.indptr.dtype == np.int32 and T.indices.dtype == np.uint16
    E = rng.random((3, 5, channels)).astype(np.float32)
    I = T.apply(E)
    assert I.shape == (6, 7, 3) and I.dtype == np.float32
    _close(I.reshape(-1, 3), _image(refs, E))
    assert (I.reshape(-1, 3)[[0, 5, 41]] == 0).all()  # empty rows: black pixels
    if channels == 1:  # 2-D maps and float64 input are gray maps too
        np.testing.assert_array_equal(T.apply(E[..., 0].astype(np.float64)), I)
        assert T.channel(1).shape == (42, 15)
        np.testing.assert_allclose(T.channel(1).toarray(), refs[1].toarray(), rtol=1e-7)


@pytest.mark.parametrize("channels", [1, 3])
def test_mean_of_two_and_three_matrices(channels):
    """The fused pass over a decorrelated engine's halves equals (T_a E + T_b E) / 2."""
    rng = np.random.default_rng(10 + channels)
    mats = [_matrix(rng, max_per_row=4 + 3 * k, empty_rows=(k,)) for k in range(3)]
    E = rng.random((3, 5, channels)).astype(np.float32)
    refs = [_image(r, E) for _, r in mats]
    _close(mean_apply([mats[0][0]], E).reshape(-1, 3), refs[0])
    _close(mean_apply([m for m, _ in mats[:2]], E).reshape(-1, 3), (refs[0] + refs[1]) / 2)
    _close(mean_apply([m for m, _ in mats], E).reshape(-1, 3), sum(refs) / 3)
    other, _ = _matrix(rng, image=(7, 6))
    with pytest.raises(ValueError, match="shapes"):
        mean_apply([mats[0][0], other], E)
    with pytest.raises(ValueError, match="does not fit"):
        mean_apply([mats[0][0]], np.ones((5, 3, 1), np.float32))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("gdtype", [np.float32, np.float64])
def test_transpose_equals_scipy(channels, gdtype):
    rng = np.random.default_rng(20 + channels)
    T, refs = _matrix(rng, empty_rows=(3,), empty_cols=(2, 14))
    G = rng.standard_normal((6, 7, 3)).astype(gdtype)
    g = T.apply_transpose(G, channels)
    assert g.shape == (3, 5, channels) and g.dtype == np.float64
    expect = np.stack([refs[c].T @ G.reshape(-1, 3)[:, c].astype(np.float64)
                       for c in range(3)], 1)
    if channels == 1:
        expect = expect.sum(1, keepdims=True)
    np.testing.assert_allclose(g.reshape(-1, channels), expect, rtol=1e-6, atol=1e-6)
    assert (g.reshape(15, -1)[[2, 14]] == 0).all()  # texels no pixel sees
    with pytest.raises(ValueError):
        T.apply_transpose(G[:, :6])


def test_rows_dealt_in_chunks_give_the_same_products(monkeypatch):
    """Rows are dealt to the threads in chunks (``kernels.row_chunk``; a thread slowed by
    another process takes fewer). On a T of 9,600 rows (10 chunks of 1,024 rows, the last
    shorter) every product equals scipy's and the one-share-per-thread schedule's: T E to
    the bit (each row is summed by one thread in the same order either way), T^T G up to
    float64 rounding (its parts are summed in another grouping)."""
    from scratchlight.engines.transport import kernels

    rng = np.random.default_rng(30)
    T, refs = _matrix(rng, image=(96, 100), env=(5, 9), empty_rows=(0, 4_000, 9_599))
    assert kernels.row_chunk(96 * 100) == 1024 and kernels.CHUNKS_PER_THREAD > 0
    T2, _ = _matrix(rng, image=(96, 100), env=(5, 9))
    E = rng.random((5, 9, 3)).astype(np.float32)
    G = rng.standard_normal((96, 100, 3))
    chunked = (T.apply(E), mean_apply([T, T2], E), T.apply_transpose(G, 3))
    _close(chunked[0].reshape(-1, 3), _image(refs, E))
    monkeypatch.setattr(kernels, "CHUNKS_PER_THREAD", 0)
    assert kernels.row_chunk(96 * 100) == 0
    shares = (T.apply(E), mean_apply([T, T2], E), T.apply_transpose(G, 3))
    np.testing.assert_array_equal(chunked[0], shares[0])
    np.testing.assert_array_equal(chunked[1], shares[1])
    np.testing.assert_allclose(chunked[2], shares[2], rtol=1e-12, atol=1e-12)
    expect = np.stack([refs[c].T @ G.reshape(-1, 3)[:, c] for c in range(3)], 1)
    np.testing.assert_allclose(chunked[2].reshape(-1, 3), expect, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("indptr_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("index_dtype", [np.uint16, np.int32])
@pytest.mark.slow
def test_kernels_on_every_index_type(indptr_dtype, index_dtype):
    """The kernels themselves on the index types a matrix may hold: int64 row pointers
    (from 2**31 non-zeros on, too large to build here) and int32 texel indices."""
    from scratchlight.engines.transport.kernels import mean_times, transpose_times

    rng = np.random.default_rng(7)
    (Ta, ra), (Tb, rb) = _matrix(rng, max_per_row=12), _matrix(rng, empty_rows=(1, 2))
    arrays = [(T.indptr.astype(indptr_dtype), T.indices.astype(index_dtype), T.data)
              for T in (Ta, Tb)]
    for E in (rng.random((15, 1)), rng.random((15, 3))):
        E = E.astype(np.float32)
        _close(mean_times(arrays[:1], E), _image(ra, E))
        _close(mean_times(arrays, E), (_image(ra, E) + _image(rb, E)) / 2)
    G = rng.standard_normal((42, 3))
    np.testing.assert_allclose(transpose_times(*arrays[1], G, 15),
                               np.stack([rb[c].T @ G[:, c] for c in range(3)], 1), rtol=1e-6,
                               atol=1e-9)


def test_large_maps_get_int32_indices_and_empty_matrices_work():
    """Maps of more than 65536 texels keep int32 texel indices; a matrix without any
    non-zero renders black and has a zero gradient."""
    rng = np.random.default_rng(3)
    T, refs = _matrix(rng, image=(4, 5), env=(257, 256), max_per_row=30)
    assert T.indices.dtype == np.int32
    E = rng.random((257, 256, 3)).astype(np.float32)
    _close(T.apply(E).reshape(-1, 3), _image(refs, E))
    G = rng.standard_normal((4, 5, 3))
    np.testing.assert_allclose(T.apply_transpose(G, 3).reshape(-1, 3),
                               np.stack([refs[c].T @ G.reshape(-1, 3)[:, c] for c in range(3)], 1),
                               rtol=1e-6, atol=1e-9)
    empty = TransportMatrix(np.zeros(21, np.int32), np.zeros(0, np.int32),
                            np.zeros((3, 0), np.float32), (4, 5), (2, 3), spp=1)
    assert (empty.apply(np.ones((2, 3, 1))) == 0).all()
    assert (empty.apply_transpose(np.ones((4, 5, 3)), 1) == 0).all()


def test_warm_up_compiles_once_per_index_types():
    """An engine's matrices make their kernels ready when loaded or built (the studio's first
    relight must not wait for the compiler); a second call costs nothing."""
    from scratchlight.engines.transport import kernels

    T, _ = _matrix(np.random.default_rng(6))
    assert T.warm_up() >= 0.0
    assert (T.indptr.dtype, T.indices.dtype) in kernels._WARM
    assert T.warm_up() == 0.0
    assert kernels.warm_up(np.int64, np.int32) >= 0.0 and kernels.warm_up(np.int64, np.int32) == 0


def test_bad_arrays_are_refused(tmp_path):
    """The kernels do not check bounds: the matrix checks its arrays when it is made."""
    rng = np.random.default_rng(4)
    counts, tex, data = _pieces(rng, 42, 15)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    kw = dict(image_shape=(6, 7), envmap_shape=(3, 5), spp=1)
    for bad in (tex + 15, tex - 16):  # a texel outside the map
        with pytest.raises(ValueError, match="texel index"):
            TransportMatrix(indptr, bad, data, **kw)
    decreasing = indptr.copy()
    decreasing[3] = indptr[-1]  # row 3 would end before it starts
    assert indptr[4] < indptr[-1]
    for ip in (indptr[:-1], indptr + 1, decreasing):
        with pytest.raises(ValueError, match="inconsistent"):
            TransportMatrix(ip, tex, data, **kw)
    with pytest.raises(ValueError, match="inconsistent"):
        TransportMatrix(indptr, tex, data[:, 1:], **kw)
    # the file of a good matrix round-trips with its types and version
    T = TransportMatrix(indptr, tex, data, **kw)
    T.save(tmp_path / "T.npz")
    U = TransportMatrix.load(tmp_path / "T.npz")
    assert U.indices.dtype == np.uint16 and U.indptr.dtype == np.int32
    np.testing.assert_array_equal(U.apply(np.ones((3, 5))), T.apply(np.ones((3, 5))))
    with np.load(tmp_path / "T.npz") as z:
        fields = dict(z)
    assert int(fields["version"]) == TRANSPORT_VERSION
    np.savez(tmp_path / "old.npz", **{**fields, "version": TRANSPORT_VERSION - 1})
    with pytest.raises(ValueError, match="version"):  # a column-compressed file: rebuilt
        TransportMatrix.load(tmp_path / "old.npz")
    np.savez(tmp_path / "bad.npz", **{**fields, "indices": fields["indices"].astype(int) + 15})
    with pytest.raises(ValueError, match="bad.npz"):
        TransportMatrix.load(tmp_path / "bad.npz")


def test_products_from_several_threads_at_once():
    """The studio relights from worker threads: concurrent products give the same images."""
    rng = np.random.default_rng(5)
    T, _ = _matrix(rng, image=(64, 64), env=(5, 10), max_per_row=20)
    maps = [rng.random((5, 10, 1 + 2 * (k % 2))).astype(np.float32) for k in range(4)]
    expect = [T.apply(E) for E in maps]
    wrong = []

    def work(k):
        for _ in range(25):
            if not np.array_equal(T.apply(maps[k]), expect[k]):
                wrong.append(k)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong


_BESIDE_MITSUBA = textwrap.dedent("""
    import json, sys
    import numpy as np
    from scratchlight.scene import SceneSpec, build_scene
    from scratchlight.engines import ADEngine
    from scratchlight.engines.transport import build_transport, kernels

    rng = np.random.default_rng(0)
    hm = rng.random((24, 24)) * 1e-6
    from scratchlight.io import check_heightmap
    scene = build_scene(check_heightmap(hm, 5e-6, 5e-6, source="t"), SceneSpec(width=12, height=12))
    E = rng.random((25, 50, 1)).astype(np.float32)
    def mitsuba():
        return float(ADEngine(scene, spp=4).render(E, seed=1).mean())
    def products(T):
        return float(T.apply(E).mean()), float(T.apply_transpose(np.ones((12, 12, 3)), 1).sum())
    if sys.argv[1] == "mitsuba-first":
        m = mitsuba()
        T = build_transport(scene, spp=4)
        p = products(T)
    else:
        T = build_transport(scene, spp=4, method="scipy")
        p = products(T)
        m = mitsuba()
    print(json.dumps({"mitsuba": m, "products": p, "again": products(T),
                      "cache": kernels.numba_cache_dir()}))
""")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("scratchlight-cache")


@pytest.mark.parametrize("order", ["mitsuba-first", "numba-first"])
@pytest.mark.slow
def test_kernels_beside_mitsuba_llvm_and_their_cache(shared_cache, order):
    """numba's LLVM and Dr.Jit's (the llvm variants) live in one process in either order;
    compiled kernels are cached under $SCRATCHLIGHT_CACHE/numba (the second process loads
    what the first compiled), not beside the package."""
    tmp_path = shared_cache
    pkg = SRC / "scratchlight" / "engines" / "transport"
    before = sorted(pkg.rglob("*.nbi"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(SRC), SCRATCHLIGHT_CACHE=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", _BESIDE_MITSUBA, order], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["mitsuba"] > 0 and out["products"][0] > 0
    assert out["again"] == out["products"]
    assert out["cache"] == str(tmp_path / "numba")
    assert list((tmp_path / "numba").rglob("*.nbi"))  # the index files of the kernels
    assert sorted(pkg.rglob("*.nbi")) == before


def test_scaled_noise_is_standard_normal_per_pixel_and_thread_independent():
    """add_scaled_noise(I, g, f, seed) = I + (g I + f) z: z one standard normal per pixel
    (shared by its channels), fresh per seed, the same for any number of threads."""
    import numba
    from scipy import stats

    from scratchlight.engines.transport.kernels import add_scaled_noise

    rng = np.random.default_rng(0)
    image = 0.25 + rng.random((64, 96, 3), dtype=np.float32)  # away from 0: z = noise / (g I)
    gain = 0.25 + rng.random((64, 96, 3), dtype=np.float32)
    floor = np.zeros_like(gain)
    out = add_scaled_noise(image, gain, floor, 7)
    z = (out - image) / (gain * image)
    np.testing.assert_allclose(z[..., 1], z[..., 0], rtol=1e-4, atol=1e-5)  # one z per pixel
    zs = np.stack([(add_scaled_noise(image, np.ones_like(gain), floor, s) - image)[..., 0] / image[..., 0]
                   for s in range(20)]).ravel()
    assert abs(zs.mean()) < 0.01 and abs(zs.std() - 1) < 0.01
    assert abs(stats.skew(zs)) < 0.03 and abs(stats.kurtosis(zs)) < 0.06
    assert stats.kstest(zs, "norm").pvalue > 1e-3
    a, b = ((add_scaled_noise(image, gain, floor, s) - image).ravel() for s in (1, 2))
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.02  # seeds are independent
    with_floor = add_scaled_noise(image, np.zeros_like(gain), np.full_like(gain, 0.5), 7)
    np.testing.assert_allclose(with_floor - image, 0.5 * z, rtol=1e-4, atol=1e-5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        single = add_scaled_noise(image, gain, floor, 7)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(single, out)

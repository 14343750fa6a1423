"""The transport cache under concurrent writers (issue 14, part 4): workers that need the
same matrix build it once, the others wait and load it, and no writer ever leaves a damaged
or half-written file."""
import multiprocessing
import os
import threading
import time

import numpy as np
import pytest

from surface_helpers import feed_marks
from scratchlight.engines.transport import TransportMatrix, cache
from scratchlight.engines.transport.cache import load_or_build_transport, transport_key
from scratchlight.scene import SceneSpec, build_scene

ENV = (4, 8)


def _scene():
    return build_scene(feed_marks(24, 24), SceneSpec(width=16, height=16),
                       envmap=np.full(ENV + (1,), 0.5, np.float32))


def _files(folder):
    return sorted(os.listdir(folder))


@pytest.mark.slow
def test_threads_building_one_key_build_it_once(tmp_path, monkeypatch):
    """Eight threads ask for the same missing key at once: one builds (slowly), seven wait
    on the key's lock and load its file; the folder holds one whole matrix and its lock."""
    scene = _scene()
    builds = []

    def slow_build(scene, spp, seed, progress=False):
        builds.append(threading.get_ident())
        time.sleep(0.3)
        n = 16 * 16  # two non-zeros per pixel row
        rng = np.random.default_rng(seed)
        indptr = np.arange(n + 1, dtype=np.int32) * 2
        indices = np.sort(rng.integers(0, ENV[0] * ENV[1], (n, 2)), axis=1).ravel()
        return TransportMatrix(indptr, indices, rng.random((3, indices.size)), (16, 16), ENV,
                               spp=spp, seed=seed, build_seconds=0.3)

    monkeypatch.setattr(cache, "build_transport", slow_build)
    results, errors = [], []

    def worker():
        try:
            results.append(load_or_build_transport(scene, spp=4, seed=7, cache_dir=tmp_path))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(builds) == 1
    assert sorted(from_cache for _, from_cache in results) == [False] + [True] * 7
    key = transport_key(scene, 4, 7)
    assert _files(tmp_path) == [f"T-{key}.npz", f"T-{key}.npz.lock"]
    first = results[0][0]
    for T, _ in results:
        np.testing.assert_array_equal(T.data, first.data)
    assert TransportMatrix.load(tmp_path / f"T-{key}.npz").key == key


def _build_in_process(folder, barrier, out):
    import scratchlight

    scratchlight.use_device("cpu")
    scene = _scene()
    barrier.wait()
    T, from_cache = load_or_build_transport(scene, spp=4, seed=3, cache_dir=folder)
    out.put((from_cache, float(T.data.sum()), T.key))


@pytest.mark.slow
def test_two_processes_building_one_key(tmp_path):
    """Two worker processes start building the same key at the same moment: one traces the
    matrix, the other waits for it and loads it; both hold the same T, and the cache holds
    one matrix file and no temporary file."""
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_build_in_process, args=(str(tmp_path), barrier, out))
             for _ in range(2)]
    for p in procs:
        p.start()
    got = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(g[0] for g in got) == [False, True]
    assert got[0][1:] == got[1][1:]
    key = got[0][2]
    assert _files(tmp_path) == [f"T-{key}.npz", f"T-{key}.npz.lock"]


def test_a_damaged_file_is_replaced_under_the_lock(tmp_path):
    """A truncated matrix file (a writer killed mid-write by an older version, a full disk)
    is rebuilt and replaced atomically."""
    scene = _scene()
    T, from_cache = load_or_build_transport(scene, spp=2, seed=1, cache_dir=tmp_path)
    path = tmp_path / f"T-{T.key}.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    again, from_cache = load_or_build_transport(scene, spp=2, seed=1, cache_dir=tmp_path)
    assert not from_cache
    assert TransportMatrix.load(path).key == T.key
    assert not [f for f in _files(tmp_path) if f.startswith(".tmp")]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])

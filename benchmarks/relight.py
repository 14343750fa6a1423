"""Relight near the memory limit (issue 12, part 3): T E with SciPy and with the numba kernels.

One run, one process: builds (or loads from the transport cache) the matrices of
``milled-face.sur`` at a 512 x 512 image and 64 spp: one T (``decorrelate=False``) and the two
halves T_a, T_b of the default engine (what ``Session.relight`` and the studio use). Then, in
interleaved rounds so that other work on the cores slows every case alike, it times:

- the previous products (SciPy, column-compressed T, one single-threaded product per
  channel, the halves one after the other plus a sum: the code before this change, run on
  the same numbers converted back to that layout), and
- the products now (``TransportMatrix.apply`` / ``TransportEngine.relight``: numba kernels
  over row-compressed T, the halves fused into one pass),

for a gray map (the optimizer's) and an RGB map, and T^T G (the gradient). Each product's
bytes (T's row pointers, indices and weights read, the image written, the map read) divided
by its median time is set beside the memory-copy bandwidth measured in the same run, before
and after the products (``np.copyto`` between two 512 MB arrays, single-threaded as NumPy
is, and the same copy split over numba's threads; read + write bytes counted; the ratios use
the faster of the two measurements). The first-call cost of the kernels
(compiling, or loading the compiled kernels from their disk cache) is measured in two fresh
processes.

Under load (issue 26, part 4): the numba products again, with their rows dealt in chunks
(now) and in one equal share per thread (before; ``kernels.CHUNKS_PER_THREAD = 0``), in
blocks of rounds that alternate between an idle machine and one with a busy process (a
Python busy loop pinned to the last CPU) beside them, and the copy bandwidth in both.

Why numba: ``scratchlight/engines/transport/kernels.py`` (module docstring).

    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/relight.py [--repeats 200]
    PYTHONPATH=$PWD/src .venv/bin/python benchmarks/relight.py --only-load --load-rounds 200

Prints a table and writes ``benchmarks/results/relight.json``.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data" / "milled-face.sur"


class ScipyProducts:
    """The products as they were: T column-compressed (int32 pixel indices), one SciPy
    product per channel (``TransportMatrix.apply`` / ``apply_transpose`` before numba)."""

    def __init__(self, T):
        import scipy.sparse as sp

        h, w = T.image_shape
        shape = (h * w, T.envmap_shape[0] * T.envmap_shape[1])
        # the permutation from row order to column order, shared by the three channels
        order = sp.csr_matrix((np.arange(1, T.nnz + 1, dtype=np.float64),
                               T.indices.astype(np.int32), T.indptr), shape=shape).tocsc()
        order.sort_indices()
        perm = (order.data - 1).astype(np.int64)
        self.mats = []
        for c in range(3):
            m = sp.csc_matrix(shape, dtype=np.float32)
            m.data, m.indices, m.indptr = T.data[c][perm], order.indices, order.indptr
            self.mats.append(m)
        self.image_shape = (h, w)

    def apply(self, E):
        h, w = self.image_shape
        flat = np.ascontiguousarray(E.reshape(-1, E.shape[2]).T, dtype=np.float32)
        out = np.empty((h * w, 3), np.float32)
        for c in range(3):
            out[:, c] = self.mats[c] @ flat[c if E.shape[2] == 3 else 0]
        return out.reshape(h, w, 3)

    def apply_transpose(self, G):
        g = np.ascontiguousarray(G.reshape(-1, 3).T, dtype=np.float32)
        return np.stack([self.mats[c].T @ g[c] for c in range(3)], axis=1).astype(np.float64)


def old_relight_halves(a: ScipyProducts, b: ScipyProducts, E):
    out = a.apply(E)
    out += b.apply(E)
    out *= 0.5
    return out


def copy_bandwidth(nbytes: int, repeats: int) -> dict:
    """Median read + write GB/s of copying nbytes: np.copyto (one thread) and a copy split
    over numba's threads."""
    import numba

    @numba.njit(parallel=True, nogil=True)
    def threaded_copy(dst, src):  # pragma: no cover - compiled
        for i in numba.prange(src.size):
            dst[i] = src[i]

    a = np.ones(nbytes // 8)
    b = np.empty_like(a)
    threaded_copy(b, a)
    out = {}
    for name, fn in (("np.copyto", lambda: np.copyto(b, a)),
                     ("threaded copy", lambda: threaded_copy(b, a))):
        fn()
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        out[name] = 2 * a.nbytes / float(np.median(ts)) / 1e9
    return out


_FIRST_CALL = """
import json, time
t0 = time.perf_counter()
import numpy as np
from scratchlight.engines.transport import TransportMatrix, mean_apply
from scratchlight.engines.transport import kernels
t1 = time.perf_counter()
rng = np.random.default_rng(0)
counts = rng.integers(0, 20, 64 * 64)
tex = np.concatenate([np.sort(rng.choice(1250, c, replace=False)) for c in counts])
T = TransportMatrix.from_rows(counts, tex, rng.random((3, tex.size), np.float32),
                              image_shape=(64, 64), envmap_shape=(25, 50), spp=1)
out = {"import_s": t1 - t0}
for name, fn in (("apply_gray_s", lambda: T.apply(np.ones((25, 50, 1)))),
                 ("apply_rgb_s", lambda: T.apply(np.ones((25, 50, 3)))),
                 ("halves_gray_s", lambda: mean_apply([T, T], np.ones((25, 50, 1)))),
                 ("transpose_s", lambda: T.apply_transpose(np.ones((64, 64, 3))))):
    t = time.perf_counter(); fn(); out[name] = time.perf_counter() - t
print(json.dumps(out))
"""


def first_call_costs() -> dict:
    """Seconds of the first products in a fresh process: with an empty kernel cache
    (compiling) and again with the cache the first process wrote."""
    res = {}
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        env["PYTHONPATH"] = os.pathsep.join([str(HERE.parent / "src"),
                                             env.get("PYTHONPATH", "")])
        for label in ("compile", "cached"):
            proc = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, check=True,
                                  capture_output=True, text=True)
            res[label] = json.loads(proc.stdout.strip().splitlines()[-1])
    return res


def timed_rounds(cases: dict, repeats: int) -> dict:
    """Median, 10th and 90th percentile seconds per case, cases interleaved per round."""
    for fn in cases.values():
        fn()
    ts = {k: [] for k in cases}
    for _ in range(repeats):
        for k, fn in cases.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: {"median_s": float(np.median(v)), "p10_s": float(np.percentile(v, 10)),
                "p90_s": float(np.percentile(v, 90))} for k, v in ts.items()}


class BusyCore:
    """A Python busy loop pinned to the last CPU while the ``with`` block runs."""

    def __enter__(self):
        cpu = max(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        pin = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
        self.proc = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                     preexec_fn=pin)
        time.sleep(0.2)  # running before the first product
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait()


def under_load(cases: dict, rounds: int, blocks: int = 10) -> dict:
    """(condition, schedule, case) -> seconds: ``rounds`` per condition ('idle', 'one core
    busy') and schedule ('chunks', 'shares'), in ``blocks`` alternating blocks (so that other
    work on the machine meets both conditions alike); plus the copy bandwidth per condition."""
    from scratchlight.engines.transport import kernels

    chunks = kernels.CHUNKS_PER_THREAD
    times, copies = {}, {"idle": [], "one core busy": []}
    for b in range(2 * blocks):
        condition = ("idle", "one core busy")[b % 2]
        with (BusyCore() if b % 2 else contextlib.nullcontext()):
            for _ in range(max(1, rounds // blocks)):
                for schedule, per_thread in (("chunks", chunks), ("shares", 0)):
                    kernels.CHUNKS_PER_THREAD = per_thread
                    for case, fn in cases.items():
                        t = time.perf_counter()
                        fn()
                        times.setdefault((condition, schedule, case), []).append(
                            time.perf_counter() - t)
            copies[condition].append(copy_bandwidth(64 << 20, repeats=5))
    kernels.CHUNKS_PER_THREAD = chunks
    copy = {c: {k: float(np.median([x[k] for x in v])) for k in v[0]} for c, v in copies.items()}
    return {"times": {k: {"median_s": float(np.median(v)), "p10_s": float(np.percentile(v, 10)),
                          "p90_s": float(np.percentile(v, 90))} for k, v in times.items()},
            "copy_GB_per_s": copy}


def print_under_load(loaded: dict, T, Ta, Tb, load: dict, threads: int) -> None:
    """The under-load table: median (p10 - p90) per condition and schedule, and GB/s over
    the copy bandwidth measured in the same condition."""
    copy = loaded["copy_GB_per_s"]
    print(f"under load: {threads} threads; copy (np.copyto, 64 MB) idle "
          f"{copy['idle']['np.copyto']:.1f} GB/s, one core busy "
          f"{copy['one core busy']['np.copyto']:.1f} GB/s; load average (1 min) at the end "
          f"{os.getloadavg()[0]:.2f}")
    print("| product | rows dealt | idle: median (p10 - p90) | of copyto | one core busy: "
          "median (p10 - p90) | of copyto |")
    print("|---|---|---|---|---|---|")
    h, w = T.image_shape
    for case in dict.fromkeys(k[2] for k in loaded["times"]):
        moved = sum(M.nbytes for M in ([Ta, Tb] if case.startswith("(T_a") else [T]))
        moved += h * w * 3 * (8 if "T^T" in case else 4)
        for schedule in ("chunks", "shares"):
            cells = []
            for condition in ("idle", "one core busy"):
                t = loaded["times"][(condition, schedule, case)]
                ratio = moved / t["median_s"] / 1e9 / copy[condition]["np.copyto"]
                cells.append(f"{t['median_s'] * 1e3:.2f} ms ({t['p10_s'] * 1e3:.1f} - "
                             f"{t['p90_s'] * 1e3:.1f}) | {ratio:.0%}")
            label = "in chunks (now)" if schedule == "chunks" else "one share per thread"
            print(f"| {case} | {label} | " + " | ".join(cells) + " |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--surface", default=str(DATA))
    ap.add_argument("--resolution", type=int, default=512)
    ap.add_argument("--spp", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--copy-mb", type=int, default=512)
    ap.add_argument("--cache-dir", default=None,
                    help="transport-matrix cache (default: the scratchlight cache)")
    ap.add_argument("--out", default=str(HERE / "results" / "relight.json"))
    ap.add_argument("--load-rounds", type=int, default=100,
                    help="rounds per condition and schedule of the under-load table")
    ap.add_argument("--only-load", action="store_true",
                    help="only the under-load table (no SciPy, no first-call costs)")
    args = ap.parse_args(argv)

    import numba

    from scratchlight.engines.transport import TransportEngine, kernels
    from scratchlight.scene import SceneSpec
    from scratchlight.session import Session
    from scratchlight.surface.config import SurfaceConfig

    load = {"start": os.getloadavg()}
    session = Session(SurfaceConfig(path=args.surface),
                      SceneSpec(width=args.resolution, height=args.resolution))
    t0 = time.perf_counter()
    single = TransportEngine(session.scene, spp=args.spp, decorrelate=False,
                             cache_dir=args.cache_dir)
    halves = TransportEngine(session.scene, spp=args.spp, cache_dir=args.cache_dir)
    setup_s = time.perf_counter() - t0
    T = single.T
    Ta, Tb = halves.halves
    h, w = T.image_shape
    H, W = T.envmap_shape
    rng = np.random.default_rng(0)
    gray = rng.random((H, W, 1)).astype(np.float32)
    rgb = rng.random((H, W, 3)).astype(np.float32)
    G = rng.standard_normal((h, w, 3))
    loaded = under_load({"T E, one T, gray": lambda: single.relight(gray),
                         "(T_a E + T_b E) / 2, gray": lambda: halves.relight(gray),
                         "T^T G, one T": lambda: T.apply_transpose(G)}, args.load_rounds)
    load["after_load_table"] = os.getloadavg()
    print_under_load(loaded, T, Ta, Tb, load, kernels.threads())
    if args.only_load:
        out = str(HERE / "results" / "relight_load.json") if args.out == str(
            HERE / "results" / "relight.json") else args.out
        with open(out, "w") as f:
            json.dump({"settings": vars(args), "load_average": load, "threads": kernels.threads(),
                       "chunks_per_thread": kernels.CHUNKS_PER_THREAD,
                       "times": {" / ".join(k): v for k, v in loaded["times"].items()},
                       "copy_GB_per_s": loaded["copy_GB_per_s"]}, f, indent=1)
        return 0
    old, old_a, old_b = ScipyProducts(T), ScipyProducts(Ta), ScipyProducts(Tb)

    # the same numbers both ways (float32 sums in another order: rounding only)
    def rel(a, b):
        return float(np.abs(a - b).max() / np.abs(b).max())

    agree = {"single_gray": rel(single.relight(gray), old.apply(gray)),
             "single_rgb": rel(single.relight(rgb), old.apply(rgb)),
             "halves_gray": rel(halves.relight(gray), old_relight_halves(old_a, old_b, gray)),
             "transpose": rel(T.apply_transpose(G).reshape(-1, 3), old.apply_transpose(G))}

    cases = {
        ("T E, one T, gray", "scipy"): lambda: old.apply(gray),
        ("T E, one T, gray", "numba"): lambda: single.relight(gray),
        ("T E, one T, rgb", "scipy"): lambda: old.apply(rgb),
        ("T E, one T, rgb", "numba"): lambda: single.relight(rgb),
        ("(T_a E + T_b E) / 2, gray", "scipy"): lambda: old_relight_halves(old_a, old_b, gray),
        ("(T_a E + T_b E) / 2, gray", "numba"): lambda: halves.relight(gray),
        ("(T_a E + T_b E) / 2, rgb", "scipy"): lambda: old_relight_halves(old_a, old_b, rgb),
        ("(T_a E + T_b E) / 2, rgb", "numba"): lambda: halves.relight(rgb),
        ("T^T G, one T", "scipy"): lambda: old.apply_transpose(G),
        ("T^T G, one T", "numba"): lambda: T.apply_transpose(G),
    }
    # copies before and after the products: other work on the machine changes both; the
    # ratios use the faster (the bandwidth the machine had to give)
    copies = [copy_bandwidth(args.copy_mb << 20, repeats=10)]
    load["before_timing"] = os.getloadavg()
    times = timed_rounds(cases, args.repeats)
    load["after_timing"] = os.getloadavg()
    copies.append(copy_bandwidth(args.copy_mb << 20, repeats=10))
    load["after_copy"] = os.getloadavg()
    copy = {k: max(c[k] for c in copies) for k in copies[0]}

    def moved(product: str) -> int:
        """Bytes a product must move: T read, the image written (T E) or read (T^T G), the
        map read (T E) or written (T^T G, float64)."""
        mats = [Ta, Tb] if product.startswith("(T_a") else [T]
        channels = 3 if "rgb" in product or "T^T" in product else 1
        image = h * w * 3 * (8 if "T^T" in product else 4)
        envmap = H * W * channels * (8 if "T^T" in product else 4)
        return sum(M.nbytes for M in mats) + image + envmap

    rows = []
    for (product, path), t in times.items():
        gbs = moved(product) / t["median_s"] / 1e9
        rows.append({"product": product, "path": path, **t, "bytes": moved(product),
                     "GB_per_s": gbs, "of_copyto": gbs / copy["np.copyto"],
                     "of_threaded_copy": gbs / copy["threaded copy"]})
    first = first_call_costs()
    result = {
        "settings": vars(args), "image": [h, w], "envmap": [H, W],
        "nnz_per_pixel": T.nnz_per_pixel, "T_MB": T.nbytes / 1e6,
        "halves_MB": (Ta.nbytes + Tb.nbytes) / 1e6, "setup_s": setup_s,
        "from_cache": single.from_cache and halves.from_cache,
        "numba": numba.__version__, "threads": kernels.threads(),
        "threading_layer": numba.threading_layer(), "cpu_count": os.cpu_count(),
        "load_average": load, "copy_GB_per_s": copy,
        "copy_GB_per_s_before_after": copies, "max_rel_diff": agree,
        "first_call": first, "rows": rows,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)

    print(f"{args.surface}: {h} x {w} image, {args.spp} spp, {T.nnz_per_pixel:.1f} non-zeros "
          f"per pixel, T {T.nbytes / 1e6:.1f} MB, halves {result['halves_MB']:.1f} MB; "
          f"numba {numba.__version__}, {kernels.threads()} threads ({numba.threading_layer()})")
    print("memory copy (read + write; before / after the products): np.copyto " +
          " / ".join(f"{c['np.copyto']:.1f}" for c in copies) + " GB/s, threaded " +
          " / ".join(f"{c['threaded copy']:.1f}" for c in copies) + " GB/s")
    print("load average (1, 5, 15 min): " + "; ".join(
        f"{k} {v[0]:.2f} {v[1]:.2f} {v[2]:.2f}" for k, v in load.items()))
    print("| product | path | median | p10 - p90 | MB moved | GB/s | of copyto | of threaded copy |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['product']} | {r['path']} | {r['median_s'] * 1e3:.2f} ms | "
              f"{r['p10_s'] * 1e3:.2f} - {r['p90_s'] * 1e3:.2f} ms | {r['bytes'] / 1e6:.1f} | "
              f"{r['GB_per_s']:.1f} | {r['of_copyto']:.0%} | {r['of_threaded_copy']:.0%} |")
    for label, costs in first.items():
        print(f"first call ({label}): " + ", ".join(f"{k} {v:.2f} s" for k, v in costs.items()))
    print("max relative difference numba vs scipy: " + ", ".join(
        f"{k} {v:.1e}" for k, v in agree.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

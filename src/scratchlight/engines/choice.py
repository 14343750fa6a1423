"""Choosing an engine: 'auto' takes the transport engine whenever its matrices fit in memory.

Why. One scene lit by many lights (an optimization's iterations, relighting) costs the AD
engine a full Mitsuba render per light, and the transport engine one build of T (about the
paths of one or two AD iterations) and then milliseconds per light: 30-45x faster end to
end at the paper's settings (benchmarks/README.md). What limits T is memory: it holds every
path's texel weights, 14 bytes per non-zero, ~10-60 non-zeros per pixel.

How. ``choose_engine`` (the rule of ``engine='auto'``):

1. the matrices are in the transport cache already: transport, if their files fit the
   budget;
2. transport, without tracing anything, when the matrices fit the budget even at their
   largest (``transport_bound_bytes``: a path adds at most 4 texels to its pixel's row);
3. otherwise a pilot (``build.pilot_nonzeros``) traces ~3 % of the image rows exactly as
   the build would and extrapolates T's non-zeros; the estimate of the peak memory is the
   matrices the engine holds (two independent ones, see ``TransportEngine``) plus what the
   build of the last one needs on top (``build.build_peak_extra_bytes``);
4. transport if that peak fits the budget, else AD.

The budget defaults to a quarter of the memory of the machine (or of the process's cgroup
limit, when lower), so a run leaves room for the rest of the system. The choice and its
reason are printed by the front ends and saved in ``run.json``.
"""
from __future__ import annotations

import dataclasses
import os

__all__ = ["ENGINE_CHOICES", "EngineChoice", "TransportEstimate", "choose_engine",
           "estimate_transport", "transport_bound_bytes", "total_memory_bytes", "default_memory_budget",
           "matrix_bytes"]

ENGINE_CHOICES = ("auto", "ad", "transport")


def total_memory_bytes() -> int:
    """Physical memory of the machine, or the cgroup (v2 or v1) memory limit when lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)


def default_memory_budget() -> int:
    """A quarter of ``total_memory_bytes()``: the default budget of the transport matrices."""
    return total_memory_bytes() // 4


def matrix_bytes(nnz: int, image_shape: tuple[int, int], envmap_shape: tuple[int, int]) -> int:
    """Bytes of one stored transport matrix (``TransportMatrix``, row-compressed) with
    ``nnz`` non-zeros: a texel index (uint16, int32 for maps of more than 2**16 texels) and
    three float32 weights per non-zero, and h*w + 1 row pointers (int32, int64 from 2**31
    non-zeros on)."""
    index = 2 if int(envmap_shape[0]) * int(envmap_shape[1]) <= 2 ** 16 else 4
    pointer = 4 if nnz < 2 ** 31 else 8
    return int(nnz) * (index + 12) + (int(image_shape[0]) * int(image_shape[1]) + 1) * pointer


@dataclasses.dataclass(frozen=True)
class TransportEstimate:
    """What the transport engine of a scene would need, from a pilot.

    Attributes:
        nnz_per_pixel: estimated non-zeros per pixel of one matrix.
        nnz: estimated non-zeros of one matrix.
        matrices: matrices the engine holds (2 with decorrelation).
        resident_bytes: bytes of all matrices, held while the engine is in use.
        peak_bytes: resident bytes plus the build's extra at its peak.
        pilot_pixels: pixels the pilot traced; pilot_seconds: its wall time.
        build_seconds: the build time extrapolated from the pilot's paths per second (the
            pilot also pays the kernels' compilation, so this errs long).
    """

    nnz_per_pixel: float
    nnz: int
    matrices: int
    resident_bytes: int
    peak_bytes: int
    pilot_pixels: int
    pilot_seconds: float
    build_seconds: float


def estimate_transport(scene, spp: int, seed: int = 0, matrices: int = 2,
                       rows: int | None = None) -> TransportEstimate:
    """Estimate the memory and build time of the transport engine of ``scene`` at ``spp``
    paths per pixel (``matrices`` independent matrices) by a pilot over ``rows`` image rows
    (default ~3 % of them, see ``build.pilot_nonzeros``)."""
    from .transport.build import build_peak_extra_bytes, pilot_nonzeros

    per_pixel, pixels, seconds = pilot_nonzeros(scene, spp, seed, rows)
    h, w = scene.image_shape
    nnz = int(round(per_pixel * h * w))
    one = matrix_bytes(nnz, scene.image_shape, scene.envmap_shape)
    resident = matrices * one
    peak = resident + build_peak_extra_bytes(nnz, scene.envmap_shape, spp)
    build_s = seconds * (h * w) / max(pixels, 1) * matrices
    return TransportEstimate(per_pixel, nnz, int(matrices), int(resident), int(peak), pixels,
                             seconds, build_s)


def transport_bound_bytes(scene, spp: int, matrices: int = 2) -> tuple[int, int]:
    """(resident, peak) bytes of the transport engine of ``scene`` at ``spp`` at their
    largest, from the sizes alone: every path ends in one bilinear lookup of the map, so a
    row holds at most 4 * spp non-zeros, and never more than the map's texels."""
    from .transport.build import build_peak_extra_bytes

    h, w = scene.image_shape
    H, W = scene.envmap_shape
    nnz = int(h) * int(w) * min(4 * int(spp), int(H) * int(W))
    resident = int(matrices) * matrix_bytes(nnz, scene.image_shape, scene.envmap_shape)
    return resident, resident + build_peak_extra_bytes(nnz, scene.envmap_shape, spp)


@dataclasses.dataclass(frozen=True)
class EngineChoice:
    """The engine ``auto`` picked, and why.

    Attributes:
        engine: 'transport' or 'ad'.
        reason: one sentence, for people.
        budget_bytes: the memory budget it was judged against.
        cached_bytes: bytes of the matrices found in the cache (0 when not cached).
        estimate: the pilot's estimate (None when the matrices were cached).
    """

    engine: str
    reason: str
    budget_bytes: int
    cached_bytes: int = 0
    estimate: TransportEstimate | None = None

    def to_dict(self) -> dict:
        """JSON-ready record (saved in run.json as ``engine_choice``)."""
        d = dataclasses.asdict(self)
        return d

    def summary(self) -> str:
        """One line: 'engine: transport (reason)'."""
        return f"engine: {self.engine} ({self.reason})"


def _mib(n: int) -> str:
    """Bytes for people: GiB, MiB or KiB."""
    for unit, size in (("GiB", 2 ** 30), ("MiB", 2 ** 20)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n / 1024:.0f} KiB"


def _cached_bytes(scene, spp: int, seeds: list[int], cache_dir) -> int:
    """Total size of the cached matrices of these seeds, or 0 unless all are cached."""
    if cache_dir is False:
        return 0
    from .transport.cache import default_cache_dir, transport_key

    folder = default_cache_dir() if cache_dir in (None, True) else os.fspath(cache_dir)
    total = 0
    for s in seeds:
        path = os.path.join(folder, f"T-{transport_key(scene, spp, s)}.npz")
        if not os.path.isfile(path):
            return 0
        total += os.path.getsize(path)
    return total


def choose_engine(scene, spp: int, seed: int = 0, budget_bytes: int | None = None,
                  cache_dir=None, decorrelate: bool = True, rows: int | None = None
                  ) -> EngineChoice:
    """The engine of ``engine='auto'`` for ``scene`` at ``spp`` (module docstring).

    Args:
        scene: a built ``scene.Scene`` (its ``envmap_shape`` is the texel grid of T).
        spp: paths per pixel of each matrix (the run's samples per pixel).
        seed: the engine's seed (which matrices a cache would hold).
        budget_bytes: memory the matrices may take; None for ``default_memory_budget()``.
        cache_dir: the transport cache (None: the default folder; False: none).
        decorrelate: the engine holds two matrices (True) or one.
    """
    from .transport.engine import half_seed

    budget = default_memory_budget() if budget_bytes is None else int(budget_bytes)
    if budget <= 0:
        raise ValueError(f"memory budget must be positive, got {budget_bytes}")
    seeds = [half_seed(seed, k) for k in (0, 1)] if decorrelate else [int(seed)]
    cached = _cached_bytes(scene, spp, seeds, cache_dir)
    if cached:
        if cached <= budget:
            return EngineChoice("transport", f"its matrices are cached ({_mib(cached)}, within "
                                             f"the budget of {_mib(budget)})", budget, cached)
        return EngineChoice("ad", f"the cached matrices ({_mib(cached)}) exceed the budget of "
                                  f"{_mib(budget)}", budget, cached)
    bound = transport_bound_bytes(scene, spp, matrices=len(seeds))
    if rows is None and bound[1] <= budget:  # fits even at its largest: no pilot needed
        return EngineChoice("transport", f"T at most {_mib(bound[0])}, {_mib(bound[1])} while "
                                         f"building (4 texels per path at most); within the "
                                         f"budget of {_mib(budget)}", budget, 0)
    est = estimate_transport(scene, spp, seed, matrices=len(seeds), rows=rows)
    need = (f"T estimated at {_mib(est.resident_bytes)}, {_mib(est.peak_bytes)} while building, "
            f"by a {est.pilot_seconds:.1f} s pilot")
    if est.peak_bytes <= budget:
        return EngineChoice("transport", f"{need}; within the budget of {_mib(budget)}", budget,
                            0, est)
    return EngineChoice("ad", f"{need}; over the budget of {_mib(budget)}", budget, 0, est)

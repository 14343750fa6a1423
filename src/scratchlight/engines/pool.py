"""The engine pool: choose, build, keep and evict the engines of a session's scenes.

Why. An engine is expensive to make (a transport matrix costs the paths of one or two AD
iterations, or a read of its cache file; an AD engine a traversal of the Mitsuba scene)
and cheap to use again, and the steps of a session (optimize, relight, judging renders,
lamps, fit) ask for the same engines over and over. So every engine of a
:class:`~scratchlight.session.Session` comes from one :class:`EnginePool`.

How. An engine is kept under its *key*: the kind ('ad', 'transport', 'subset'), the
``Scene.digest()`` of its scene(s) (height map, scene spec, envmap shape, Mitsuba variant)
and the parameters that change what it computes:

- 'ad': spp (the seed is an argument of every render, not of the engine);
- 'transport': spp, seed, the cache folder and ``decorrelate`` (one or two matrices);
- 'subset': spp, the differentiated parameters and ``freeze``, over several views.

'auto' is resolved by :meth:`EnginePool.choose` (``engines.choice.choose_engine``, kept per
key; an engine already built is chosen again without a pilot). The pool holds at most
``max_engines`` engines and, when ``memory_bytes`` is set, at most that many bytes of
transport matrices; past either limit the least recently used engines are dropped (a
dropped transport engine comes back from the on-disk cache on next use). An engine a
caller still holds stays alive after eviction; only the pool forgets it.
"""
from __future__ import annotations

import collections
import os
from typing import Callable, Sequence

from .choice import EngineChoice, choose_engine, default_memory_budget

__all__ = ["POOL_KINDS", "EnginePool", "PoolStats"]

POOL_KINDS = ("ad", "transport", "subset")
"""What a pool builds: the two engines of ``engines.ENGINES`` and the subset renderer."""

_MAX_DIGESTS = 16  # scenes whose digest is remembered (a session has one or a few)


class PoolStats(collections.namedtuple("PoolStats", "builds hits evictions engines nbytes")):
    """Counters of a pool: engines built, requests served by a kept engine, engines
    evicted, engines held now and the bytes of their transport matrices."""


class EnginePool:
    """Engines built on first use, kept by key (module docstring), evicted least recently
    used.

    Args:
        max_engines: most engines kept (None: no limit).
        memory_bytes: most bytes of transport matrices kept (None: no limit); the engine
            just built is kept even if it alone exceeds it.
    """

    def __init__(self, max_engines: int | None = 8, memory_bytes: int | None = None):
        if max_engines is not None and max_engines < 1:
            raise ValueError(f"max_engines must be at least 1, got {max_engines}")
        self.max_engines = max_engines
        self.memory_bytes = memory_bytes
        self._engines: collections.OrderedDict = collections.OrderedDict()  # key -> engine, LRU first
        self._choices: dict = {}
        self._digests: collections.OrderedDict = collections.OrderedDict()  # id -> (scene, digest)
        self.builds = self.hits = self.evictions = 0

    # ------------------------------------------------------------------ keys
    def digest(self, scene) -> str:
        """``scene.digest()``, remembered for the last few scene objects (hashing a large
        height map takes milliseconds, and a session asks on every relight)."""
        entry = self._digests.get(id(scene))
        if entry is None or entry[0] is not scene:
            entry = (scene, scene.digest())
            self._digests[id(scene)] = entry
            while len(self._digests) > _MAX_DIGESTS:
                self._digests.popitem(last=False)
        self._digests.move_to_end(id(scene))
        return entry[1]

    def key(self, kind: str, scene, spp: int = 16, seed: int = 0, *, cache_dir=None,
            decorrelate: bool = True, params: Sequence[str] = ("envmap",),
            freeze: bool | None = None) -> tuple:
        """The key an engine of ``kind`` is kept under (module docstring); ``scene`` is a
        list of views for 'subset'."""
        if kind == "ad":
            return ("ad", self.digest(scene), int(spp))
        if kind == "transport":
            folder = cache_dir if cache_dir in (None, False, True) else os.fspath(cache_dir)
            return ("transport", self.digest(scene), int(spp), int(seed), folder, bool(decorrelate))
        if kind == "subset":
            views = [scene] if not isinstance(scene, (list, tuple)) else list(scene)
            return ("subset", tuple(self.digest(v) for v in views), int(spp), tuple(params), freeze)
        raise ValueError(f"unknown engine {kind!r}; choose from {', '.join(POOL_KINDS)}")

    # ------------------------------------------------------------------ choose, get
    def choose(self, scene, spp: int = 16, seed: int = 0, budget_bytes: int | None = None, *,
               cache_dir=None, decorrelate: bool = True) -> EngineChoice:
        """What 'auto' resolves to for ``scene`` at ``spp`` (``engines.choice.choose_engine``;
        ValueError for a budget <= 0). Kept; a transport engine this pool holds already is
        chosen again ("its matrices are built already") without a pilot."""
        built = self.key("transport", scene, spp, seed, cache_dir=cache_dir, decorrelate=decorrelate)
        key = built[1:] + (budget_bytes,)
        if key not in self._choices:
            if built in self._engines:  # already paid for: keep using it
                nbytes = self._engines[built].nbytes
                budget = default_memory_budget() if budget_bytes is None else budget_bytes
                self._choices[key] = EngineChoice(
                    "transport", f"its matrices are built already ({nbytes / 2 ** 20:.0f} MiB)",
                    int(budget), nbytes)
            else:
                self._choices[key] = choose_engine(scene, spp, seed, budget_bytes,
                                                   cache_dir=cache_dir, decorrelate=decorrelate)
        return self._choices[key]

    def get(self, kind: str, scene, spp: int = 16, seed: int = 0, *,
            budget_bytes: int | None = None, progress: bool | str | Callable | None = None,
            cache_dir=None, decorrelate: bool = True, params: Sequence[str] = ("envmap",),
            freeze: bool | None = None):
        """The engine ``kind`` ('auto', 'ad', 'transport' or 'subset') of ``scene`` (for
        'subset' a list of views), built on first use and kept.

        Args:
            spp, seed: samples per pixel of its renders; the transport matrices' seed.
            budget_bytes: 'auto' only: the memory the transport matrices may take.
            progress: 'transport' only, while building: False, a label, or
                ``progress(done, total)``.
            cache_dir, decorrelate: 'transport' only (``TransportEngine``).
            params, freeze: 'subset' only (``engines.subset.SubsetRenderer``).
        Raises:
            ValueError for an unknown kind or an unusable option.
        """
        if kind == "auto":
            kind = self.choose(scene, spp, seed, budget_bytes, cache_dir=cache_dir,
                               decorrelate=decorrelate).engine
        key = self.key(kind, scene, spp, seed, cache_dir=cache_dir, decorrelate=decorrelate,
                       params=params, freeze=freeze)
        engine = self._engines.get(key)
        if engine is not None:
            self._engines.move_to_end(key)
            self.hits += 1
            return engine
        engine = self._build(kind, scene, spp, seed, progress=progress, cache_dir=cache_dir,
                             decorrelate=decorrelate, params=params, freeze=freeze)
        self.builds += 1
        self._engines[key] = engine
        self._evict(keep=key)
        return engine

    @staticmethod
    def _build(kind, scene, spp, seed, *, progress, cache_dir, decorrelate, params, freeze):
        if kind == "ad":
            from .ad import ADEngine

            return ADEngine(scene, spp=spp)
        if kind == "transport":
            from .transport import TransportEngine

            return TransportEngine(scene, spp=spp, seed=seed, cache_dir=cache_dir,
                                   progress=progress or False, decorrelate=decorrelate)
        from .subset import SubsetRenderer

        return SubsetRenderer(scene, spp=spp, params=params, freeze=freeze)

    # ------------------------------------------------------------------ holding
    @property
    def nbytes(self) -> int:
        """Bytes of the transport matrices held (other engines count 0)."""
        return sum(getattr(e, "nbytes", 0) for e in self._engines.values())

    def stats(self) -> PoolStats:
        """The pool's counters (:class:`PoolStats`)."""
        return PoolStats(self.builds, self.hits, self.evictions, len(self._engines), self.nbytes)

    def __len__(self) -> int:
        return len(self._engines)

    def __contains__(self, key: tuple) -> bool:
        return key in self._engines

    def _evict(self, keep: tuple) -> None:
        """Drop least recently used engines (never ``keep``) until within the limits."""
        def over() -> bool:
            if self.max_engines is not None and len(self._engines) > self.max_engines:
                return True
            return self.memory_bytes is not None and self.nbytes > self.memory_bytes

        for key in list(self._engines):
            if not over():
                break
            if key != keep:
                del self._engines[key]
                self.evictions += 1

    def clear(self) -> int:
        """Forget every engine (their memory is freed unless a caller holds one; a
        transport engine comes back from the on-disk cache); returns how many. The choices
        of 'auto' are kept."""
        n = len(self._engines)
        self._engines.clear()
        return n

"""Stage 4 — engines: the image for a light E, and dL/dE for an image gradient dL/dI.

Every engine implements the protocol ``Engine`` (``engines.base``):
``render(E, seed=0, spp=None, grad=False) -> image (h, w, 3)``, ``backprop(dL_dI) -> dL_dE``
(after a ``render(..., grad=True)``), ``render_progressive(E, spp, seed=0, progress=False)``
and ``relight(E)``, so the objective and the optimizer never know which engine they drive.
"""
from .ad import ADEngine
from .base import Engine
from .transport import TransportEngine

ENGINES = {"ad": ADEngine}
ENGINES["transport"] = TransportEngine

__all__ = ["Engine", "ADEngine", "TransportEngine", "ENGINES", "make_engine"]


def make_engine(name: str, scene, spp: int = 16, seed: int = 0, **options):
    """Engine ``name`` ('ad', ...) for ``scene`` with ``spp`` samples per pixel per render."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    cls = ENGINES[name]
    if name == "ad":
        return cls(scene, spp=spp, **options)
    return cls(scene, spp=spp, seed=seed, **options)

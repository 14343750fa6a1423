"""The protocol every engine implements: an image for a light, and the gradient of a loss.

An engine renders one scene (``scene.build.Scene``: a height map seen by one camera)
under environment maps E and differentiates an image loss with respect to E, so that the
objective and the optimizer never know which engine they drive. ``ADEngine`` renders and
differentiates with Mitsuba (path replay); ``TransportEngine`` with precomputed sparse
transport matrices.

Shapes, dtypes, units shared by every method:

- E: the environment map, (H, W, C) float (a 2-D (H, W) array is read as C = 1), C = 1
  (gray: one value drives R, G and B) or 3, linear radiance, the layout of
  ``scene.envmap``; (H, W) is the scene's ``envmap_shape``.
- image: (h, w, 3) float32 linear RGB radiance (the scene's ``image_shape``), the
  expected pixel value under E up to the engine's Monte Carlo noise.
- dL_dI: (h, w, 3) float, the gradient of a scalar loss with respect to that image.
- dL_dE: (H, W, C) float64, C that of the E rendered (1 for a 2-D map), the gradient of
  the same loss with respect to E (for a gray map: the sum over the R, G and B
  contributions).
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Engine"]


@runtime_checkable
class Engine(Protocol):
    """What the objective, the optimizer and the commands need from an engine.

    ``isinstance(x, Engine)`` checks only that the members exist (``typing.Protocol``);
    the contract below is the documentation both engines follow.

    Attributes:
        name: the engine's name in ``engines.ENGINES`` ('ad', 'transport').
    """

    name: str

    # Optional, not part of the protocol's checks: ``begin_run(E0, seed, resume,
    # first_iteration)``, which the optimization loop calls before its first iteration from
    # map E0 (the transport engine counts its Mitsuba warm-up iterations from there and
    # calibrates the Monte Carlo noise it adds to its primal images).

    def render(self, E: np.ndarray, seed: int = 0, spp: int | None = None,
               grad: bool = False) -> np.ndarray:
        """The image (h, w, 3) float32 of the scene under E (H, W, C).

        ``seed`` selects the Monte Carlo sample (renders with different seeds are
        independent estimates; an engine without sampling noise at render time may use
        only its parity); ``spp`` samples per pixel, None for the engine's own (an engine
        with a fixed sample set ignores it). With ``grad`` the engine keeps what
        ``backprop`` needs, and the gradient it returns is estimated independently of
        this image's noise.
        """
        ...

    def backprop(self, dL_dI: np.ndarray) -> np.ndarray:
        """dL/dE (H, W, C) float64, C that of the last ``render(..., grad=True)``'s E, for
        the image gradient dL_dI (h, w, 3). Needs that render as the last ``render`` call
        (RuntimeError otherwise) and consumes it: one backprop per gradient render."""
        ...

    def render_progressive(self, E: np.ndarray, spp: int, seed: int = 0,
                           progress: bool | str = False) -> np.ndarray:
        """A high-quality image (h, w, 3) float32 under E at ``spp`` samples per pixel,
        for final renders: in passes if the engine samples, with a progress bar when
        ``progress`` is true (a string labels it)."""
        ...

    def relight(self, E: np.ndarray) -> np.ndarray:
        """The deterministic image (h, w, 3) float32 of the scene under E: the same E
        always gives the same image (the transport engine's T E; the AD engine's render at
        its own spp with seed 0). Not kept for ``backprop``."""
        ...

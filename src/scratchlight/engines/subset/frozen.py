"""Replaying the subset renderer's passes as Dr.Jit frozen functions.

Tracing Mitsuba's prb loops in Python costs a few tens of milliseconds per render on the
CPU whatever the number of pixels, which is most of the time of a small subset. With
freezing on (the default; ``SCRATCHLIGHT_FREEZE=0`` turns it off) the primal render and
the adjoint pass are Dr.Jit frozen functions (``dr.freeze``): traced once per batch size and
sample count, then replayed with new indices, seeds, light and roughness. Results equal the
traced path to float rounding (tested); if recording fails on some backend, the renderer
falls back to tracing (``run_frozen``). The forward-mode pass
(``SubsetRenderer.directional_derivative``) is always traced.
"""
from __future__ import annotations

import os
import warnings
from typing import Callable

__all__ = ["FREEZE_ENV", "freeze_from_environment", "frozen_passes", "run_frozen"]

# Environment variable that turns freezing off with 0, no, false or off.
FREEZE_ENV = "SCRATCHLIGHT_FREEZE"


def freeze_from_environment() -> bool:
    """Whether to freeze by default: yes unless ``$SCRATCHLIGHT_FREEZE`` says 0/no/false/off."""
    return os.environ.get(FREEZE_ENV, "1").strip().lower() not in ("0", "no", "false", "off")


def frozen_passes(integrator, limit: int) -> tuple[Callable, Callable]:
    """(primal, backward): the integrator's render and adjoint pass of a ``flat_sensor``
    as frozen functions, each keeping at most ``limit`` recordings.

    ``primal(scene, sensor, indices, seed, spp)`` returns the (unevaluated) image of the
    pixels ``indices``; ``backward(scene, params, sensor, indices, seed, grad_image, spp)``
    accumulates the gradients of sum(grad_image * image) into the parameters' gradients.
    """
    import drjit as dr

    def primal(scene, sensor, indices, seed, spp):
        sensor.pixel_idx = indices
        return integrator.render(scene, sensor, seed=seed, spp=spp, develop=True,
                                 evaluate=False)

    def backward(scene, params, sensor, indices, seed, grad_image, spp):
        sensor.pixel_idx = indices
        integrator.render_backward(scene, params, grad_image, sensor, seed=seed, spp=spp)

    options = dict(limit=limit, warn_after=100)
    return dr.freeze(primal, **options), dr.freeze(backward, **options)


def run_frozen(which: str, function: Callable, unfreezable: set[str], *args):
    """``function(*args)``, the frozen pass named ``which``; None if it cannot be recorded
    here: then ``which`` joins ``unfreezable`` (the caller traces it from now on) with a
    RuntimeWarning. Other errors propagate."""
    try:
        return function(*args)
    except RuntimeError as e:
        if "record" not in str(e):
            raise
        warnings.warn(f"frozen {which} rendering unavailable here "
                      f"({str(e).splitlines()[0]}); tracing it instead", RuntimeWarning,
                      stacklevel=4)
        unfreezable.add(which)
        return None

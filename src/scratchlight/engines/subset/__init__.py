"""Differentiable rendering of a chosen set of pixels of one or several views.

- ``renderer``: ``SubsetRenderer``, render and differentiate (light, roughness) the
  pixels of given flat indices with Mitsuba's ``flat_sensor`` and prb integrator.
- ``frozen``: the primal and adjoint passes as replayed Dr.Jit frozen functions.
- ``indices``: the flat pixel index of V views, and blocks of pixels.
- ``probes``: what the adaptive samplers measure with a renderer: a pixel's relative cost
  and a cheap low-resolution pass with forward-mode derivatives.
"""
from .frozen import FREEZE_ENV
from .indices import draw_block_pixels, flat_index, image_blocks, spread_blocks, unflat_index
from .renderer import PARAM_NAMES, ROUGHNESS_KEY, SubsetRenderer

__all__ = ["SubsetRenderer", "ROUGHNESS_KEY", "PARAM_NAMES", "FREEZE_ENV", "flat_index",
           "unflat_index", "image_blocks", "draw_block_pixels", "spread_blocks"]

"""d' of a light against the defect-free twin of a synthetic surface.

A surface written by ``scratchlight synth --twin`` has a twin: the same machined surface
without its planted defects. Rendering both under one light with the same seeds, scene and
exaggeration gives the model observers' detectability index d' of the defects
(``report.detectability``), the measure ``evaluate --twin`` reports and an optimization run
with a twin adds to its ``run.json``.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..errors import InputError
from ..surface import SurfaceConfig
from .detectability import detectability

__all__ = ["render_twin", "twin_detectability", "observer_window"]


def render_twin(session, twin_path: str, light: np.ndarray, spp: int, seeds: list[int],
                option: str = "twin", sampler: str = "independent") -> list[np.ndarray]:
    """Renders (h, w, 3) float32 of the twin ``twin_path`` under ``light`` (H, W, C), one per
    seed, with the scene of ``session`` (a ``session.Session``: its camera, metal and
    exaggeration, its surface's preparation) and Mitsuba's ``sampler``. ``option`` names the
    setting in errors."""
    cfg = session.surface_config
    surface = SurfaceConfig(path=twin_path, max_size=cfg.max_size, level=cfg.level, crop=cfg.crop)
    spec = dataclasses.replace(session.scene.spec)  # its exaggeration resolved: the same
    twin = type(session)(surface, spec, device=session.device, envmap=light)
    if twin.heightmap.shape != session.heightmap.shape:
        raise InputError(option, f"{twin_path}: grid {twin.heightmap.shape[1]} x "
                                 f"{twin.heightmap.shape[0]} differs from the surface's "
                                 f"{session.heightmap.shape[1]} x {session.heightmap.shape[0]}")
    return [twin.render_final(light, spp, seed=s, label=f"twin seed {s}", sampler=sampler)
            for s in seeds]


def observer_window(image_shape: tuple[int, int]) -> int:
    """The observers' window side (pixels) for an image: 16, as ``evaluate``'s default, or an
    eighth of the smaller side for small images (at least 4), so that enough background
    windows fit for the noise covariance."""
    return int(min(16, max(4, min(image_shape) // 8)))


def twin_detectability(session, twin_path: str, light: np.ndarray, images: list[np.ndarray],
                       spp: int, seeds: list[int], window: int | None = None, guard: int = 3,
                       option: str = "twin", sampler: str = "independent") -> dict:
    """The observers' d' (``report.detectability``) of ``images`` (the surface under
    ``light`` rendered at ``spp`` with ``seeds`` and ``sampler``, at least 2) against its
    twin rendered alike;
    the surface's own truth mask marks the defects. ``window``: default ``observer_window``.
    The returned dict adds ``seeds`` and ``window``."""
    truth = session.truth_mask()
    if truth is None or not truth.any():
        raise InputError(option, "d' against a twin needs the surface's defect mask "
                                 "(a file written by scratchlight synth)")
    without = render_twin(session, twin_path, light, spp, seeds, option, sampler)
    window = observer_window(session.object_mask.shape) if window is None else int(window)
    result = detectability(images, without, truth, session.object_mask, window=window,
                           guard=guard)
    result["seeds"], result["window"] = [int(s) for s in seeds], window
    return result

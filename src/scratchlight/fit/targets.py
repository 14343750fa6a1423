"""Reading the target images of a fit: linear RGB, one per view, all of one size.

EXR and HDR files are taken as linear, PNG and JPEG as sRGB (decoded to linear), exactly as
environment maps are read (``io.read_envmap``). Problems raise ``InputError`` naming the
file.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..errors import InputError

__all__ = ["MIN_TARGET_SIDE", "read_target_image", "read_targets"]

MIN_TARGET_SIDE = 8
"""Smallest image side (pixels) a fit renders at."""


def read_target_image(path: str | os.PathLike) -> np.ndarray:
    """A target image as linear RGB float32 (h, w, 3): EXR/HDR linear, PNG/JPEG sRGB."""
    from ..io import read_envmap

    try:
        return read_envmap(path)
    except InputError as e:
        # the reader speaks of environment maps; here the file is a target image
        raise InputError(e.path, e.problem.replace("environment-map", "image")
                         .replace("environment map", "image")) from None


def read_targets(paths: Sequence[str | os.PathLike]) -> np.ndarray:
    """The target images ``paths`` stacked: (V, h, w, 3) float32 linear RGB.

    Raises InputError naming the file when one cannot be read, differs in size from the
    first, or the images are smaller than ``MIN_TARGET_SIDE`` pixels.
    """
    if not paths:
        raise InputError("targets", "no target image given")
    images = [read_target_image(p) for p in paths]
    for p, im in zip(paths[1:], images[1:]):
        if im.shape != images[0].shape:
            raise InputError(p, f"size {im.shape[1]} x {im.shape[0]} differs from the first "
                                f"target's {images[0].shape[1]} x {images[0].shape[0]}")
    h, w = images[0].shape[:2]
    if min(h, w) < MIN_TARGET_SIDE:
        raise InputError(paths[0], f"image of {w} x {h} pixels is too small (at least 8 x 8)")
    return np.stack(images).astype(np.float32)

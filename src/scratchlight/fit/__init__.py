"""Fitting the light (and the roughness) of a height-map scene to target images: inverse
rendering with Adam on an adaptively sampled subset of the pixels.

Modules: ``config`` (FitConfig, FitRunConfig), ``losses`` (image losses), ``sampling``
(pixel samplers), ``refresh`` (their maps, texel visibility), ``fitter`` (Fitter,
fit_to_images), ``scratch_estimator`` (the scratch objective on pixel subsets), ``targets``,
``cameras``, ``plots`` and ``run`` (a whole run to a results folder, as ``scratchlight fit``).
"""
from .cameras import parse_camera, parse_cameras
from .config import FitConfig, FitRunConfig
from .fitter import Fitter, FitResult, Truth, fit_to_images, parameter_error
from .losses import LOSSES, image_loss
from .refresh import sensitivity_weights
from .run import FitRun, run_fit
from .sampling import SAMPLINGS, make_sampler
from .targets import read_target_image, read_targets

__all__ = [
    "FitConfig", "FitRunConfig", "Fitter", "FitResult", "Truth", "fit_to_images",
    "parameter_error", "LOSSES", "image_loss", "sensitivity_weights", "FitRun", "run_fit",
    "SAMPLINGS", "make_sampler", "parse_camera", "parse_cameras", "read_target_image",
    "read_targets",
]

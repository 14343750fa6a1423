"""The inspection camera: photon and read noise, exposure, 8-bit output.

A monochrome camera sees the render's luminance Y (linear radiance, 1 = the display white
the renders are scaled to). A pixel collects N = Poisson(exposure * clip(Y, 0, inf) *
full_well) photo-electrons, plus Gaussian read noise of ``read_noise`` electrons rms; the
signal N / full_well is clipped to [0, 1] (saturation at the full well). The camera
writes it as 8-bit sRGB code values, and the display shows those as they are, so the
observer of ``report.detectability`` (``display=True``: clip, sRGB encoding, 8-bit
quantization, internal noise) sees exactly the camera's 8-bit image. One render, nearly
free of Monte Carlo noise, gives any number of camera frames: each frame is a fresh draw
of the camera's noise.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..objectives import luminance
from ..options import check_declared, option

__all__ = ["CameraModel", "camera_frames"]


@dataclasses.dataclass
class CameraModel:
    """Exposure and noise of the inspection camera (``pod``)."""

    exposure: float = option(1.0, "camera exposure: luminance 1/EXPOSURE fills the full well",
                             lo=0.0, lo_open=True)
    """Exposure factor: a pixel of linear luminance Y collects exposure * Y * full_well
    electrons; Y = 1 / exposure saturates it."""
    full_well: float = option(10000.0, "camera full-well capacity, electrons (photon noise)",
                              metavar="E", lo=1.0)
    """Full-well capacity, electrons: sets the photon (shot) noise, sqrt(N) electrons."""
    read_noise: float = option(10.0, "camera read noise, electrons rms", metavar="E", lo=0.0)
    """Read noise, electrons rms, added to every pixel."""
    frames: int = option(4, "camera frames (noise draws) of each plate and twin per light, "
                            "alternating between its renders; at least 2", lo=2, hi=256)
    """Camera frames of each plate and twin per light (the observer needs at least 2),
    drawn in turn from its renders."""

    def validate(self) -> None:
        """Raise InputError naming the field outside its declared bounds."""
        check_declared(self, "camera.")

    def describe(self) -> str:
        return (f"mono camera, exposure {self.exposure:g}, full well {self.full_well:g} e-, "
                f"read noise {self.read_noise:g} e- rms, 8-bit sRGB output, "
                f"{self.frames} frames")


def camera_frames(image: np.ndarray, camera: CameraModel, rng: np.random.Generator,
                  frames: int | None = None) -> list[np.ndarray]:
    """``frames`` (default ``camera.frames``) camera frames of a linear render.

    Args:
        image: (h, w, 3) linear RGB or (h, w) luminance.
        camera: exposure, full well and read noise.
        rng: the noise's random stream.
    Returns:
        a list of (h, w) float64 linear frames in [0, 1] (1 = a full well); the 8-bit sRGB
        encoding is the observer's display step (``report.detectability.display_values``).
    """
    Y = luminance(image) if np.ndim(image) == 3 else np.asarray(image, np.float64)
    electrons = np.clip(np.nan_to_num(Y, nan=0.0), 0.0, None) * camera.exposure * camera.full_well
    out = []
    for _ in range(camera.frames if frames is None else frames):
        n = rng.poisson(electrons).astype(np.float64)
        n += rng.normal(0.0, camera.read_noise, n.shape)
        out.append(np.clip(n / camera.full_well, 0.0, 1.0))
    return out

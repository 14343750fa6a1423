"""Surface texture added to every kind: chatter waviness and self-affine roughness.

Chatter waviness ``chatter * sin(2 pi x / chatter_wavelength + phase)`` runs along the feed
(x). The self-affine random roughness (Hurst exponent ``hurst``, rms ``roughness``, flat
spectrum below ``rolloff_wavelength``) is white noise filtered in the Fourier domain.
"""
from __future__ import annotations

import numpy as np

from ...errors import InputError
from .grid import check_positive, check_shape, grid_axes

__all__ = ["self_affine_roughness", "chatter_waviness"]


def self_affine_roughness(shape: tuple[int, int], spacing: float = 5e-6, rms: float = 20e-9,
                          hurst: float = 0.8, rolloff_wavelength: float = 100e-6,
                          seed=0) -> np.ndarray:
    """Gaussian self-affine random roughness made by FFT filtering of white noise.

    The power spectrum is ``C(q) ~ q**(-2 (1 + hurst))`` for wavenumbers above
    ``q_r = 2 pi / rolloff_wavelength`` and flat below; the mean is removed and the result
    scaled to standard deviation ``rms``.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        rms: standard deviation of the heights, metres (0 gives zeros).
        hurst: Hurst exponent, 0 < hurst <= 1.
        rolloff_wavelength: roll-off wavelength, metres.
        seed: anything ``numpy.random.default_rng`` accepts.

    Returns:
        (ny, nx) float64 heights in metres.
    """
    ny, nx = check_shape(shape)
    spacing = check_positive("spacing", spacing)
    if not np.isfinite(rms) or rms < 0:
        raise InputError("roughness", f"must be a finite value >= 0, got {rms}")
    if not 0 < hurst <= 1:
        raise InputError("hurst", f"must be in (0, 1], got {hurst}")
    rolloff_wavelength = check_positive("rolloff_wavelength", rolloff_wavelength)
    if rms == 0:
        return np.zeros((ny, nx))
    rng = np.random.default_rng(seed)
    qy = 2 * np.pi * np.fft.fftfreq(ny, d=spacing)
    qx = 2 * np.pi * np.fft.rfftfreq(nx, d=spacing)
    q = np.hypot(qy[:, None], qx[None, :])
    q = np.maximum(q, 2 * np.pi / rolloff_wavelength)
    amp = q ** (-(1.0 + hurst))
    amp[0, 0] = 0.0
    noise = rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape)
    z = np.fft.irfft2(noise * amp, s=(ny, nx))
    z -= z.mean()
    sd = z.std()
    return z * (rms / sd) if sd > 0 else z


def chatter_waviness(shape: tuple[int, int], spacing: float = 5e-6, chatter: float = 0.0,
                     chatter_wavelength: float = 0.5e-3, phase: float = 0.0) -> np.ndarray:
    """Sinusoidal waviness along the feed (x): ``chatter * sin(2 pi x / wavelength + phase)``.

    Args:
        shape: (ny, nx) grid points.
        spacing: grid spacing, metres.
        chatter: amplitude, metres (>= 0).
        chatter_wavelength: wavelength along x, metres.
        phase: phase, radians.

    Returns:
        (ny, nx) float64 heights in metres.
    """
    ny, nx = check_shape(shape)
    if not np.isfinite(chatter) or chatter < 0:
        raise InputError("chatter", f"must be a finite value >= 0, got {chatter}")
    wl = check_positive("chatter_wavelength", chatter_wavelength)
    x, _ = grid_axes((ny, nx), spacing)
    return np.broadcast_to(chatter * np.sin(2 * np.pi * x / wl + phase), (ny, nx)).copy()

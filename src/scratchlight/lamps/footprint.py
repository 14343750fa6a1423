"""A lamp's footprint: the environment map on the optimized light's texel grid that stands
for it, so that the transport matrix T applies (image = T x footprint).

The renderer looks an (H, W) map up bilinearly (``scene.envmap``): texel t contributes to
direction omega with the hat weight b_t(omega), and the hats sum to one everywhere. A lamp
of radiance L(omega) is projected onto the hats with their solid angles as masses::

    F_t = (integral of L b_t dOmega) / m_t,      m_t = integral of b_t dOmega

which keeps its power (sum_t F_t m_t = integral of L dOmega) and lights what the lamp lights
wherever the surface's reflectance changes slowly across a texel. The integral is the sum
over the lamp's sample directions (``geometry.lamp_samples``); its derivatives go through
the bilinear weights (piecewise linear in the direction) and the samples' derivatives,
so that dL/dparams = J^T (dL/dF), with dL/dF = T^T dL/dI (``objective.py``).

Solid-angle patches (an LED dome's channel: a range of elevations times an azimuth sector)
are projected the same way by a fine quadrature of the sphere (``patch_footprint``).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from ..scene.envmap import world_to_emitter
from .geometry import PARAMS, Lamp, lamp_samples

__all__ = ["texel_masses", "bilinear", "lamp_footprint", "rig_footprint", "rig_adjoint",
           "patch_footprint", "footprint_peak"]


@functools.lru_cache(maxsize=16)
def _row_masses(H: int) -> np.ndarray:
    delta = math.pi / (H - 1)
    r = np.arange(H)
    m = 2 * np.sin(delta * r) * (1 - math.cos(delta)) / delta
    m[0] = m[-1] = (delta - math.sin(delta)) / delta
    return m


def texel_masses(shape: tuple[int, int]) -> np.ndarray:
    """(H, W) solid angle m_t of each texel's bilinear hat (sr); they sum to 4 pi."""
    H, W = shape
    return np.repeat(_row_masses(int(H))[:, None] * (2 * math.pi / W), W, axis=1)


def _uv(omega: np.ndarray, shape):
    """Mitsuba's lookup coordinates (texel units) of world directions, and their gradients
    (N, 3) with respect to the direction."""
    H, W = shape
    x, y, z = omega[:, 0], omega[:, 1], omega[:, 2]
    e = world_to_emitter(omega)
    u = np.mod(np.arctan2(e[:, 0], -e[:, 2]) / (2 * math.pi) - 0.5 / W, 1.0) * W
    v = np.arccos(np.clip(z, -1.0, 1.0)) / math.pi * (H - 1)
    rho2 = np.maximum(x * x + y * y, 1e-24)
    du = (W / (2 * math.pi)) * np.stack([y, -x, np.zeros_like(x)], 1) / rho2[:, None]
    dv = np.zeros_like(omega)
    dv[:, 2] = -(H - 1) / math.pi / np.sqrt(np.maximum(1 - z * z, 1e-24))
    return u, v, du, dv


def bilinear(omega: np.ndarray, shape):
    """The four texels and weights of the lookup of directions omega (N, 3).

    Returns (idx (N, 4) flat texel indices, w (N, 4) weights, dw (N, 4, 3) their gradients
    with respect to omega), mirroring ``scene.envmap.bilinear_texels_drjit``.
    """
    H, W = shape
    u, v, du, dv = _uv(omega, shape)
    j0f, i0f = np.floor(u), np.floor(v)
    fu, fv = u - j0f, v - i0f
    j0 = np.clip(j0f.astype(np.int64), 0, W - 1)
    j1 = np.where(j0 + 1 >= W, 0, j0 + 1)
    i0 = np.clip(i0f.astype(np.int64), 0, H - 1)
    i1 = np.minimum(i0 + 1, H - 1)
    idx = np.stack([i0 * W + j0, i0 * W + j1, i1 * W + j0, i1 * W + j1], 1)
    w = np.stack([(1 - fu) * (1 - fv), fu * (1 - fv), (1 - fu) * fv, fu * fv], 1)
    dfu = np.stack([-(1 - fv), 1 - fv, -fv, fv], 1)      # d w / d u
    dfv = np.stack([-(1 - fu), -fu, 1 - fu, fu], 1)      # d w / d v
    dw = dfu[..., None] * du[:, None, :] + dfv[..., None] * dv[:, None, :]
    return idx, w, dw


@functools.lru_cache(maxsize=128)
def _cached_samples(kind, shape, *params):
    lamp = Lamp(kind).with_params(params)
    omega, g, d_omega, d_weights = lamp_samples(lamp)
    return (omega, g, d_omega, d_weights) + bilinear(omega, shape)


def _samples(lamp: Lamp, shape):
    """``lamp_samples`` and ``bilinear`` of a lamp, kept for the adjoint of the same
    lamps (power excluded: neither depends on it). The arrays must not be modified."""
    params = [float(getattr(lamp, p)) for p in PARAMS[lamp.kind] if p != "power"]
    return _cached_samples(lamp.kind, tuple(int(v) for v in shape), *params)


def lamp_footprint(lamp: Lamp, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float64 footprint F of one lamp (module docstring)."""
    omega, g, _, _, idx, w, _ = _samples(lamp, shape)
    H, W = shape
    acc = np.bincount(idx.ravel(), weights=(lamp.power * g[:, None] * w).ravel(),
                      minlength=H * W).reshape(H, W)
    return acc / texel_masses(shape)


def footprint_peak(lamp: Lamp, shape: tuple[int, int]) -> float:
    """The largest texel value of a lamp's footprint."""
    return float(lamp_footprint(lamp, shape).max())


def rig_footprint(lamps: list[Lamp], shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float64: the sum of the lamps' footprints, the rig as an environment map."""
    out = np.zeros(tuple(shape))
    for lamp in lamps:
        out += lamp_footprint(lamp, shape)
    return out


def rig_adjoint(lamps: list[Lamp], G: np.ndarray) -> list[np.ndarray]:
    """dL/dparams of each lamp (``PARAMS[kind]`` order) for G = dL/dF (H, W): J^T G."""
    shape = G.shape[:2]
    Gm = (np.asarray(G, np.float64).reshape(shape) / texel_masses(shape)).ravel()
    grads = []
    for lamp in lamps:
        omega, g, d_omega, d_weights, idx, w, dw = _samples(lamp, shape)
        Gi = Gm[idx]                                   # (N, 4)
        val = np.sum(w * Gi, axis=1)                   # B(G/m)(omega_i)
        grad_omega = np.einsum("nk,nkc->nc", Gi, dw)   # its gradient in omega
        out = []
        for name in PARAMS[lamp.kind]:
            if name == "power":
                out.append(float(np.sum(g * val)))
                continue
            dd = lamp.power * (np.sum(g[:, None] * grad_omega * d_omega[name])
                               + np.sum(d_weights[name] * val))
            out.append(float(dd))
        grads.append(np.array(out))
    return grads


@functools.lru_cache(maxsize=8)
def _fine_grid(shape: tuple[int, int], oversample: int):
    """Midpoint quadrature of the sphere, ``oversample`` points per texel spacing: points'
    (theta, azimuth from +x), solid angles, and their bilinear texels and weights."""
    H, W = shape
    nt, nphi = oversample * (H - 1), oversample * W
    theta = (np.arange(nt) + 0.5) * math.pi / nt
    alpha = (np.arange(nphi) + 0.5) * 2 * math.pi / nphi
    T, A = np.meshgrid(theta, alpha, indexing="ij")
    dOmega = (np.sin(T) * (math.pi / nt) * (2 * math.pi / nphi)).ravel()
    st = np.sin(T.ravel())
    omega = np.stack([st * np.cos(A.ravel()), st * np.sin(A.ravel()), np.cos(T.ravel())], 1)
    idx, w, _ = bilinear(omega, shape)
    return T.ravel(), A.ravel(), dOmega, idx, w


def patch_footprint(inside, shape: tuple[int, int], oversample: int = 12) -> np.ndarray:
    """(H, W) footprint of unit radiance over the region ``inside(theta, alpha) -> bool``
    (arrays in radians; alpha the azimuth from +x towards +y in [0, 2 pi))."""
    H, W = shape
    theta, alpha, dOmega, idx, w = _fine_grid((int(H), int(W)), int(oversample))
    sel = np.asarray(inside(theta, alpha), bool)
    acc = np.bincount(idx[sel].ravel(), weights=(dOmega[sel, None] * w[sel]).ravel(),
                      minlength=H * W).reshape(H, W)
    return acc / texel_masses(shape)

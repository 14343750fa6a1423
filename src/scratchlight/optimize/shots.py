"""The multi-shot objective: K lights, each region of the mask counted in its best shot.

A sequence of K shots lights the part K times; shot k gives the image I_k = render(E_k). A
scratch parallel to a light's direction is invisible in that shot but may be caught by
another, so each *region* r of the mask M (``shot_regions``: 8-connected components of M
cut by a grid of tiles) counts in the shot where it is most visible::

    g_k(i, j) = |Y_k[i+1, j] - Y_k[i, j]| + |Y_k[i, j+1] - Y_k[i, j]|     (Y_k: luminance of I_k)
    a_kr      = (1 / n_r) sum_{(i, j) in r} g_k(i, j)                      mean gradient of r in shot k
    A_r       = (sum_k a_kr^p)^(1/p)                                       smooth maximum over shots
    D         = sum_r (n_r / n) A_r                                        n_r pixels of r, n = sum_r n_r
    L_seq     = 1 / (D + eps / n)
    Loss      = L_seq + lam * (1/K) sum_k L_l2(E_k)

A_r is the p-norm of the a_kr, i.e. exp of the log-sum-exp of ln a_kr at temperature 1/p:
max_k a_kr <= A_r <= K^(1/p) max_k a_kr (p = 8, K = 4: at most 19 % above the maximum).
With K = 1 the regions drop out (D = S / n) and L_seq is the paper's L_grad = n / (S + eps)
with the same L2 term, whatever the regions. The gradient is exact:

    dL_seq/da_kr = -(D + eps/n)^-2 (n_r / n) (a_kr / A_r)^(p-1)
    dL/dY_k      = sum over pixels of c_k(i, j) dg_k(i, j)/dY_k,   c_k = dL_seq/da_kr / n_r on r

and each shot's engine turns dL/dI_k into dL/dE_k (transport engine: T^T dL/dI_k).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..objectives import LUMINANCE_WEIGHTS, l2_term, luminance

__all__ = ["SequenceValue", "shot_regions", "smooth_max", "region_means", "sequence_objective",
           "shot_starts", "SHOT_START_DEPTH"]

SHOT_START_DEPTH = 0.25
"""Relative depth of the azimuthal modulation that tells the shots' initial maps apart."""


@dataclasses.dataclass(frozen=True)
class SequenceValue:
    """The multi-shot loss and its gradients: ``dL_dI[k]`` (h, w, 3) float64 for image k,
    ``dL_dE[k]`` like E_k (the L2 term's); ``shot_l_grad[k]``: the paper's L_grad of shot k
    alone over M (n / S_k); ``best_shot``: (R,) int, the shot of largest a_kr for each
    region; ``share[k]``: the fraction of M's pixels whose region is best seen in shot k."""

    loss: float
    l_grad: float
    l_l2: float
    dL_dI: list
    dL_dE: list
    shot_l_grad: list
    best_shot: np.ndarray
    share: list


def shot_regions(mask: np.ndarray, tiles: int = 4) -> np.ndarray:
    """Label image (h, w) int64 of the regions of ``mask`` (h, w) bool: 0 outside, 1..R the
    8-connected components of the mask, each cut by a ``tiles`` x ``tiles`` grid over the
    mask's bounding box (labels numbered in raster order of first appearance)."""
    from scipy import ndimage

    mask = np.asarray(mask, bool)
    if not mask.any():
        raise ValueError("the mask selects no pixel")
    components, _ = ndimage.label(mask, structure=np.ones((3, 3), int))
    rows, cols = np.nonzero(mask)
    i0, i1, j0, j1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    ii, jj = np.mgrid[0:mask.shape[0], 0:mask.shape[1]]
    ti = np.clip((ii - i0) * tiles // (i1 - i0), 0, tiles - 1)
    tj = np.clip((jj - j0) * tiles // (j1 - j0), 0, tiles - 1)
    key = (components.astype(np.int64) * tiles + ti) * tiles + tj
    _, first, inverse = np.unique(key[mask], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # raster order of each key's first pixel
    labels = np.zeros(mask.shape, np.int64)
    labels[mask] = order[inverse.ravel()] + 1
    return labels


def smooth_max(a: np.ndarray, p: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The p-norm A = (sum a^p)^(1/p) of non-negative ``a`` along ``axis`` and dA/da
    (= (a / A)^(p-1), 0 where A = 0), computed with the maximum factored out so that
    a^p neither overflows nor underflows; p = inf gives the maximum (what a sequence is
    judged by: a shot repeated adds nothing to it, while any finite p rewards it by up to
    K^(1/p))."""
    a = np.asarray(a, np.float64)
    m = a.max(axis=axis, keepdims=True)
    if np.isinf(p):  # the maximum itself; dA/da one-hot at the first maximum
        first = np.argmax(a, axis=axis)
        dA = (np.arange(a.shape[axis]).reshape([-1 if d == axis % a.ndim else 1
                                                for d in range(a.ndim)])
              == np.expand_dims(first, axis)).astype(np.float64)
        return np.squeeze(m, axis=axis), dA
    safe = np.where(m > 0, m, 1.0)
    A = safe * np.sum((a / safe) ** p, axis=axis, keepdims=True) ** (1.0 / p)
    A = np.where(m > 0, A, 0.0)
    dA = np.where(A > 0, (a / np.where(A > 0, A, 1.0)) ** (p - 1.0), 0.0)
    return np.squeeze(A, axis=axis), dA


def _gradient_magnitude(Y: np.ndarray) -> np.ndarray:
    """g (h, w): forward differences |dY| down plus right; 0 for the missing neighbours."""
    g = np.zeros_like(Y)
    g[:-1, :] += np.abs(Y[1:, :] - Y[:-1, :])
    g[:, :-1] += np.abs(Y[:, 1:] - Y[:, :-1])
    return g


def region_means(image: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(R,) float64: a_r, the mean gradient g of each region of a render (h, w, 3)."""
    g = _gradient_magnitude(luminance(image))
    R = int(labels.max())
    return (np.bincount(labels.ravel(), g.ravel(), minlength=R + 1)[1:]
            / np.bincount(labels.ravel(), minlength=R + 1)[1:])


def _weighted_gradient_adjoint(Y: np.ndarray, c: np.ndarray) -> np.ndarray:
    """d/dY of sum_ij c_ij g_ij (h, w): each difference passes sign * c to its two ends."""
    out = np.zeros_like(Y)
    s = np.sign(Y[1:, :] - Y[:-1, :]) * c[:-1, :]
    out[1:, :] += s
    out[:-1, :] -= s
    s = np.sign(Y[:, 1:] - Y[:, :-1]) * c[:, :-1]
    out[:, 1:] += s
    out[:, :-1] -= s
    return out


def sequence_objective(images, envmaps, labels: np.ndarray, lam: float = 30.0,
                       l2_target: str = "env", power: float = 8.0,
                       eps: float = 1e-8) -> SequenceValue:
    """L_seq + lam mean_k L_l2(E_k) (module docstring) of K shots.

    Args:
        images: K linear renders (h, w, 3) float.
        envmaps: the K lights E_k (H, W, C), values in [0, 1].
        labels: (h, w) int regions (``shot_regions``); 0 does not count.
        lam, l2_target: the L2 term as in ``objectives.scratch_objective``, averaged over
            the shots.
        power: p of the smooth maximum over shots (>= 1; ``inf``: the maximum).
        eps: as in the paper's L_grad (added to the summed gradient S).
    """
    if len(images) != len(envmaps) or not images:
        raise ValueError(f"{len(images)} images for {len(envmaps)} lights")
    if power < 1:
        raise ValueError(f"power must be >= 1, got {power}")
    labels = np.asarray(labels)
    M = labels > 0
    R = int(labels.max())
    n_r = np.bincount(labels.ravel(), minlength=R + 1)[1:].astype(np.float64)
    if R == 0 or np.any(n_r == 0):
        raise ValueError("regions must be numbered 1..R, each with a pixel")
    n = float(n_r.sum())
    Ys = [luminance(I) for I in images]
    for Y in Ys:
        if Y.shape != labels.shape:
            raise ValueError(f"image {Y.shape} does not match the regions {labels.shape}")
    S = np.array([np.bincount(labels.ravel(), _gradient_magnitude(Y).ravel(),
                              minlength=R + 1)[1:] for Y in Ys])  # (K, R)
    a = S / n_r
    A, dA = smooth_max(a, power, axis=0)
    D = float(np.sum(n_r / n * A))
    l_grad = 1.0 / (D + eps / n)
    dL_da = -l_grad ** 2 * (n_r / n) * dA  # (K, R)
    K = len(images)
    dL_dI, dL_dE, l2s = [], [], []
    for k, (Y, E) in enumerate(zip(Ys, envmaps)):
        c = np.concatenate([[0.0], dL_da[k] / n_r])[labels]
        dL_dY = _weighted_gradient_adjoint(Y, c)
        l2, dE, dY_l2 = l2_term(E, Y, M.astype(np.float64), n, lam, l2_target)
        if dY_l2 is not None:
            dL_dY = dL_dY + dY_l2 / K
        l2s.append(l2)
        dL_dE.append(np.asarray(dE) / K)
        dL_dI.append(dL_dY[..., None] * LUMINANCE_WEIGHTS if np.ndim(images[k]) == 3 else dL_dY)
    l_l2 = float(np.mean(l2s))
    best = np.argmax(a, axis=0)
    share = [float(n_r[best == k].sum() / n) for k in range(K)]
    shot_l_grad = [float(n / (S[k].sum() + eps)) for k in range(K)]
    return SequenceValue(loss=float(l_grad + lam * l_l2), l_grad=float(l_grad), l_l2=l_l2,
                         dL_dI=dL_dI, dL_dE=dL_dE, shot_l_grad=shot_l_grad, best_shot=best,
                         share=share)


def shot_starts(E0: np.ndarray, shots: int, depth: float = SHOT_START_DEPTH) -> np.ndarray:
    """The K initial maps (K, H, W, C) float64 of a sequence from one map E0 (H, W, C).

    From a symmetric start (a constant map) every shot would get the same gradient and the
    shots would stay equal; so shot j starts from E0 (1 + depth cos 2(phi - pi j / K)), phi
    the azimuth of a texel's column (lat-long: phi = 2 pi (col + 1/2) / W), clipped to
    [0, 1]. The modulation has period pi in azimuth because a scratch and its visibility
    repeat when the light turns by half a turn; the shots' preferred azimuths are spread
    evenly over that half turn. K = 1 returns E0 unchanged.
    """
    E0 = np.asarray(E0, np.float64)
    if shots == 1:
        return E0[None].copy()
    W = E0.shape[1]
    phi = 2.0 * np.pi * (np.arange(W) + 0.5) / W
    out = []
    for j in range(shots):
        mod = 1.0 + depth * np.cos(2.0 * (phi - np.pi * j / shots))
        mod = mod[None, :, None] if E0.ndim == 3 else mod[None, :]
        out.append(np.clip(E0 * mod, 0.0, 1.0))
    return np.stack(out)

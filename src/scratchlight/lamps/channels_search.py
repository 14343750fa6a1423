"""The search for the best levels of a ``channels.ChannelProblem``: K shots X (K, C).

Method (``solve``): V is convex and positively homogeneous of degree 1 in X (sums of
|linear|, then p-norms), so V(X) >= <G0, X> with G0 = dV/dX at the current X0, equal at
X0. Replacing V by that tangent gives a convex majorizer of L (1/t is decreasing and
convex for t > 0), minimized over the box [0, 1] by projected Newton steps without touching
the images (with a drive budget, the box and sum(x_s) <= max_total, by projected gradient
steps with Barzilai-Borwein lengths); each such step (one image pass for G0) cannot raise
L (majorize-minimize).
The starts (as ``lamps.dome``): the best single channel and the best uniform setting,
their levels in closed form from the channels' own gradient sums; each takes one step
and the better goes on (``adam``: each runs to the end). On the benchmark's stacks (256
and 1024 pixels, either L2 term) the start ahead after one step stayed ahead to the end.
For K > 1 the one-shot result, then that result with K - 1 more shots of one channel each,
added greedily (the channel that lowers L of the sequence most, from the channels'
per-region sums: no image pass), and K such shots from scratch (again one step each, then
the better goes on); the one-shot result with dark shots is kept as a candidate, so K shots
never score worse than one (a dark shot stays dark: the p-norm's slope is 0 there). The
p-norm exceeds the maximum by up to K^(1/p) where shots show a region equally (9 % for
p = 8, K = 2), so a repeated shot scores a little; a larger ``sharpness`` shrinks that.
``solver='adam'`` is projected Adam (``optimize.adam``) on the same L and gradient instead.
The defect-aimed objective (``channels_defect``) takes L-BFGS-B steps from the two starts.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .channel_kernels import blas_threads
from .channels import ChannelProblem
from .channels_defect import DefectContrastProblem

__all__ = ["LevelsResult", "solve", "project", "SOLVERS"]

SOLVERS = ("mm", "adam")


@dataclasses.dataclass
class LevelsResult:
    """The chosen shots X (K, C) in [0, 1], their objective terms, the starts, the
    per-step losses of the winning start, and the solver's time and image passes."""

    levels: np.ndarray
    terms: dict
    best_single: tuple[int, float, float]      # (channel index, level, loss)
    best_uniform: tuple[float, float]          # (level, loss)
    starts: dict
    history: list
    time_s: float
    evaluations: int
    gain_limited: list = dataclasses.field(default_factory=list)


def _surrogate_minimum(G, Q, c, X0, floor, iterations: int = 100):
    """argmin over [0, 1]^(K x C) of f(X) = 1 / <G, X> + c sum_s x_s^T Q x_s (convex where
    <G, X> > 0), from X0, by projected Newton steps (Bertsekas 1982: Newton on the free
    variables, the gradient on those held at a bound, an Armijo search along the projection
    arc). Below ``floor`` the reciprocal continues as its second-order expansion, so f stays
    finite and convex everywhere. A few dozen small dense solves, no image pass."""
    K, C = X0.shape
    g = G.ravel()
    Qb = np.kron(np.eye(K), Q) if K > 1 else Q

    def value(x):
        t = float(g @ x)
        if t >= floor:
            r, dr, d2r = 1.0 / t, -1.0 / t ** 2, 2.0 / t ** 3
        else:
            r = 1 / floor - (t - floor) / floor ** 2 + (t - floor) ** 2 / floor ** 3
            dr, d2r = -1 / floor ** 2 + 2 * (t - floor) / floor ** 3, 2.0 / floor ** 3
        Qx = Qb @ x
        return r + c * float(x @ Qx), dr * g + 2 * c * Qx, d2r

    x = np.clip(X0.ravel().astype(np.float64), 0.0, 1.0)
    f, grad, d2r = value(x)
    ridge = 1e-12 * (float(g @ g) + float(np.trace(Qb)) + 1e-300)
    for _ in range(iterations):
        held = ((x <= 0.0) & (grad > 0)) | ((x >= 1.0) & (grad < 0))
        free = ~held
        step = np.zeros_like(x)
        if free.any():
            gf = g[free]
            H = d2r * np.outer(gf, gf) + 2 * c * Qb[np.ix_(free, free)]
            H[np.diag_indices_from(H)] += ridge
            try:
                step[free] = -np.linalg.solve(H, grad[free])
            except np.linalg.LinAlgError:
                step[free] = -grad[free]
            if float(step[free] @ grad[free]) >= 0:     # not a descent direction
                step[free] = -grad[free]
        step[held] = -grad[held]
        alpha, moved = 1.0, False
        while alpha > 1e-12:
            xn = np.clip(x + alpha * step, 0.0, 1.0)
            fn, gn, d2n = value(xn)
            if fn <= f + 1e-4 * float(grad @ (xn - x)):
                moved = True
                break
            alpha *= 0.5
        if not moved or f - fn <= 1e-15 * abs(f):
            if moved and fn < f:
                x, f = xn, fn
            break
        x, f, grad, d2r = xn, fn, gn, d2n
    return x.reshape(K, C)


def project(X: np.ndarray, cap: float | None) -> np.ndarray:
    """The nearest point (Euclidean) to each row of X (K, C) with levels in [0, 1] and, when
    ``cap`` is given, their sum at most ``cap``: clip(x - mu, 0, 1) with mu >= 0 found by
    bisection."""
    Y = np.clip(X, 0.0, 1.0)
    if cap is None:
        return Y
    for s in range(len(Y)):
        if Y[s].sum() <= cap:
            continue
        lo, hi = 0.0, float(np.max(X[s]))
        for _ in range(100):
            mu = 0.5 * (lo + hi)
            lo, hi = (mu, hi) if np.clip(X[s] - mu, 0.0, 1.0).sum() > cap else (lo, mu)
        Y[s] = np.clip(X[s] - hi, 0.0, 1.0)
    return Y


def _surrogate_minimum_capped(G, Q, c, X0, floor, cap, iterations: int = 2000):
    """As ``_surrogate_minimum`` within the levels' box and each shot's budget ``cap``:
    projected gradient steps (Barzilai-Borwein lengths, Armijo search on the projection)."""
    Qb = np.kron(np.eye(len(X0)), Q) if len(X0) > 1 else Q
    g = G.ravel()

    def value(x):
        t = float(g @ x)
        if t >= floor:
            r, dr = 1.0 / t, -1.0 / t ** 2
        else:
            r = 1 / floor - (t - floor) / floor ** 2 + (t - floor) ** 2 / floor ** 3
            dr = -1 / floor ** 2 + 2 * (t - floor) / floor ** 3
        Qx = Qb @ x
        return r + c * float(x @ Qx), dr * g + 2 * c * Qx

    shape = X0.shape
    proj = lambda x: project(x.reshape(shape), cap).ravel()
    x = proj(X0.ravel().astype(np.float64))
    f, grad = value(x)
    step = 1.0 / (np.abs(grad).max() + 1e-300)
    for _ in range(iterations):
        while True:
            xn = proj(x - step * grad)
            fn, gn = value(xn)
            if fn <= f + 1e-4 * float(grad @ (xn - x)) or step < 1e-20:
                break
            step *= 0.5
        dx, dg = xn - x, gn - grad
        if np.abs(dx).max() <= 1e-12 or f - fn <= 1e-15 * abs(f):
            x, f = (xn, fn) if fn < f else (x, f)
            break
        x, f, grad = xn, fn, gn
        curv = float(dx @ dg)
        step = float(dx @ dx) / curv if curv > 0 else step * 2.0
    return x.reshape(shape)


def _mm(problem: ChannelProblem, X, iterations: int, tol: float, state=None):
    """Majorize-minimize steps from X: (X, L, losses, V, S, dV/dX) at the end; ``state``:
    such a tuple to continue from (no image pass to restart)."""
    if state is None:
        V, S, G = problem.visibility(X)
        L = problem.loss_from(V, X)["loss"]
        history = [L]
    else:
        X, L, history, V, S, G = state
        history = list(history)
    for _ in range(iterations):
        if not float(np.sum(G * X)) > 0:    # nothing visible here: no tangent to follow
            break
        floor = 1e-3 * max(float(np.sum(G * X)), 1e-300)
        if problem.max_total is None:
            Xn = _surrogate_minimum(G, problem.Q, problem.lam, X, floor)
        else:
            Xn = _surrogate_minimum_capped(G, problem.Q, problem.lam, X, floor,
                                           problem.max_total)
        Vn, Sn, Gn = problem.visibility(Xn)
        Ln = problem.loss_from(Vn, Xn)["loss"]
        if not Ln < L:
            break
        gain = L - Ln
        X, V, S, G, L = Xn, Vn, Sn, Gn, Ln
        history.append(L)
        if gain <= tol * L:
            break
    return X, L, history, V, S, G


def _adam(problem: ChannelProblem, X, iterations: int, lr: float):
    """Projected Adam (``optimize.adam``) from X: the best point seen, as ``_mm``."""
    from ..optimize.adam import Adam

    adam, best, best_X, history = Adam(lr), np.inf, X, []
    for _ in range(iterations):
        L, g = problem.value_and_grad(X)
        history.append(L)
        if L < best:
            best, best_X = L, X.copy()
        X = project(adam.step(X, g), problem.max_total)
    return best_X, best, history, None, None, None


def _lbfgs(problem: ChannelProblem, X, iterations: int, _=None):
    """L-BFGS-B within [0, 1] from one shot X (1, C) (the defect-aimed objective), as
    ``_mm``."""
    from scipy.optimize import minimize

    history = []

    def f(z):
        L, g = problem.value_and_grad(z[None])
        history.append(L)
        return L, g[0]

    r = minimize(f, X[0], jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * X.shape[1],
                 options={"maxiter": iterations, "ftol": 1e-12, "gtol": 1e-10})
    return np.clip(r.x, 0.0, 1.0)[None], float(r.fun), history, None, None, None


def _final(problem, X, V, G):
    """The objective's terms and dL/dX at the result X."""
    if V is None:
        if isinstance(problem, DefectContrastProblem):
            return problem.evaluate(X)
        V, _, G = problem.visibility(X)
    t = V + problem.eps / problem.n
    return problem.loss_from(V, X), -G / t ** 2 + 2.0 * problem.lam * X @ problem.Q


def solve(problem: ChannelProblem, shots: int = 1, solver: str = "mm", iterations: int = 50,
          tol: float = 1e-5, lr: float = 0.02) -> LevelsResult:
    """The best K-shot sequence of levels (module docstring) for ``problem``.

    ``iterations``: majorize-minimize steps (``mm``) or Adam steps (``adam``) per start;
    ``tol``: mm stops when a step lowers L by less than this fraction.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    with blas_threads(1):
        return _solve(problem, shots, solver, iterations, tol, lr)


def _solve(problem, shots, solver, iterations, tol, lr) -> LevelsResult:
    t0, e0 = time.perf_counter(), problem.evaluations
    C = problem.channels
    defect = isinstance(problem, DefectContrastProblem)
    if defect and shots != 1:
        raise ValueError("the defect-aimed objective takes one shot")
    if defect and problem.max_total is not None and solver == "mm":
        raise ValueError("a drive budget (max_total) needs the gradient objective or adam")
    a = problem.channel_regions()
    if not np.any(a > 0):
        raise ValueError("the channel images show no gradient within the mask (flat or "
                         "black images): no setting of the levels shows anything")
    levels, losses = problem.single_channels(a)
    order = np.argsort(losses, kind="stable")
    best_single = (int(order[0]), float(levels[order[0]]), float(losses[order[0]]))
    uniform = problem.uniform()
    run = _lbfgs if defect and solver == "mm" else _mm if solver == "mm" else _adam
    step = tol if solver == "mm" else lr
    x = np.zeros((1, C))
    x[0, order[0]] = levels[order[0]]
    starts = {"single": x, "uniform": np.full((1, C), uniform[0])}
    best = None
    if run is _mm:  # one step from each start, then on from the best
        best = min((_mm(problem, X0.copy(), 1, tol) for X0 in starts.values()),
                   key=lambda out: out[1])
        best = _mm(problem, None, iterations - 1, tol, state=best)
    else:
        for X0 in starts.values():
            out = run(problem, X0.copy(), iterations, step)
            if best is None or out[1] < best[1]:
                best = out
    if shots > 1:
        # the one-shot result with K - 1 channels added greedily, and K channels greedily
        X1, S1 = best[0], best[4]
        if S1 is None:    # adam keeps no sums
            S1 = problem.visibility(X1, grad=False)[1]
        a1 = S1 / np.where(problem.region_pixels > 0, problem.region_pixels, 1.0)
        starts["grown"] = problem.greedy(shots, a, levels, first=(X1[0], a1[0]))
        starts["greedy"] = problem.greedy(shots, a, levels)
        # the one-shot result with dark shots: L and V do not change, and a dark shot's
        # slope is 0 (the p-norm's at 0)
        dark = np.zeros((shots - 1, C))
        X_one, L_one, h_one, V_one, _, G_one = best
        best = (np.vstack([X_one, dark]), L_one, h_one, V_one, None,
                None if G_one is None else np.vstack([G_one, dark]))
        if run is _mm:   # as for one shot: a step from each start, then on from the best
            out = min((_mm(problem, starts[n].copy(), 1, tol) for n in ("grown", "greedy")),
                      key=lambda o: o[1])
            outs = [_mm(problem, None, iterations - 1, tol, state=out)]
        else:
            outs = [run(problem, starts[n].copy(), iterations, step) for n in ("grown", "greedy")]
        for out in outs:
            if out[1] < best[1]:
                best = out
    best_X, _, history, V, _, G = best
    terms, grad = _final(problem, best_X, V, G)
    limited = sorted({int(c) for s, c in zip(*np.nonzero((best_X >= 1 - 1e-6) & (grad < 0)))})
    return LevelsResult(best_X, terms, best_single, uniform,
                        {k: v.tolist() for k, v in starts.items()}, history,
                        time.perf_counter() - t0, problem.evaluations - e0, limited)

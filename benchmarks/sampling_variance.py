"""Gradient variance of the pixel samplers (part (a) of ``sampling.py``) and bias and
variance of the subset scratch-objective gradient (part (c)): many gradient estimates at a
fixed parameter state, and the variance the best possible pixel distribution would reach."""
from __future__ import annotations

import time

import numpy as np

from sampling_tasks import BUDGET, SAMPLERS

__all__ = ["gradient_samples", "oracle_maps", "predicted_trace", "variance_study",
           "scratch_study"]


def _vec(g: dict) -> np.ndarray:
    """Gradient dict as one vector, the roughness last."""
    return np.concatenate([np.ravel(g[k]) for k in ("envmap", "roughness") if k in g])


def gradient_samples(R, target, E, r, name: str, n: int, spp: int, refresh: int = 20,
                     seed: int = 0) -> tuple[np.ndarray, float]:
    """n gradient estimates (n, P) of the l2 loss at (E, r) with sampler ``name``."""
    from scratchlight.fit import FitConfig, image_loss
    from scratchlight.fit.refresh import refresh_maps
    from scratchlight.fit.sampling import make_sampler

    V = R.n_views
    h, w = R.image_shape
    T = target.reshape(-1, 3)
    N = R.n_pixels
    S = make_sampler(name.split("-")[0], (V, h, w), BUDGET, refresh=refresh)
    if name.endswith("-cost"):
        S.set_cost(R.pixel_cost(E, r, seed=seed))
    cfg = FitConfig(spp=spp, seed=seed)
    rng = np.random.default_rng([seed, 77])
    out = []
    t0 = time.perf_counter()
    for k in range(n):
        if S.needs_refresh(k):
            refresh_maps(R, S, E, r, T, cfg, k)
        idx, wts = S.draw(rng)
        I = R.render(idx, E, r, seed=(seed * 100_003 + k) % 2 ** 30, spp=spp, grad=True)
        _, g = image_loss("l2", I, T[idx], N)
        out.append(_vec(R.backprop(g * wts[:, None])))
    return np.array(out), (time.perf_counter() - t0) / n


def oracle_maps(R, target, E, r, spp: int, renders: int = 16, seed: int = 0):
    """Accurate per-pixel maps at full resolution and the iteration's spp: p1 = E[|dL/dI_j|^2]
    from ``renders`` primal renders and p2 = sum_k E[(dI_j/dtheta_k)^2] from as many
    forward-mode renders along Rademacher directions. (V * h * w,) float64 each."""
    from scratchlight.fit import image_loss

    T = target.reshape(-1, 3)
    idx = np.arange(R.n_pixels)
    rng = np.random.default_rng([seed, 0x0AC1E])
    p1 = np.zeros(R.n_pixels)
    p2 = np.zeros(R.n_pixels)
    E = np.asarray(E, np.float32)
    for i in range(renders):
        v = {"envmap": rng.choice(np.array([-1.0, 1.0], np.float32), size=E.shape),
             "roughness": float(rng.choice([-1.0, 1.0]))}
        v = {k: x for k, x in v.items() if k in R.param_names}
        I, jv = R.directional_derivative(idx, E, r, v, seed=700_001 + 2 * i, spp=spp)
        p2 += np.sum(np.asarray(jv, np.float64) ** 2, axis=1) / renders
        I = R.render(idx, E, r, seed=700_002 + 2 * i, spp=spp)  # independent of jv
        p1 += np.sum(image_loss("l2", I, T, R.n_pixels)[1] ** 2, axis=1) / renders
    return p1, p2


def predicted_trace(p1, p2, p, k: int, mean_gradient) -> float:
    """Trace of the covariance of the K-pixel estimator with probabilities p (sampling with
    replacement, independent primal and adjoint): (sum_j p1_j p2_j / p_j - |G|^2) / K."""
    p = np.asarray(p, np.float64)
    ok = p > 0
    return float((np.sum(p1[ok] * p2[ok] / p[ok]) - np.sum(np.square(mean_gradient))) / k)


def variance_study(R, target, states: dict, n: int, spp: int, log) -> dict:
    from scratchlight.fit.sampling import budget_count

    res = {}
    k = budget_count(BUDGET, R.n_pixels)
    for label, (E, r) in states.items():
        rows = {}
        for name in SAMPLERS:
            m = n if name != "full" else max(32, n // 8)
            G, dt = gradient_samples(R, target, E, r, name, m, spp, seed=3)
            rows[name] = {"trace": float(G.var(0).sum()), "envmap": float(G[:, :-1].var(0).sum()),
                          "roughness": float(G[:, -1].var()), "evals": m, "s_per_eval": dt,
                          "mean_norm": float(np.linalg.norm(G.mean(0)))}
            if name == "full":
                mean_gradient = G.mean(0)
            log(f"  [{label}] {name:9s} trace {rows[name]['trace']:.3e}  envmap "
                f"{rows[name]['envmap']:.3e}  roughness {rows[name]['roughness']:.3e}  "
                f"({m} evals, {dt:.3f} s each)")
        u = rows["uniform"]
        for name, row in rows.items():
            for key in ("trace", "envmap", "roughness"):
                row[f"{key}_vs_uniform"] = row[key] / u[key] if u[key] > 0 else None
            # variance x time per estimate: what a fixed time budget sees
            row["trace_x_time_vs_uniform"] = (row["trace"] * row["s_per_eval"]
                                              / (u["trace"] * u["s_per_eval"]))
        # The ceiling: the best any pixel distribution can do, p ∝ sqrt(p1 p2) from
        # accurate maps, against uniform; the predicted uniform checks the formula.
        p1, p2 = oracle_maps(R, target, E, r, spp)
        q = np.sqrt(p1 * p2)
        pu = predicted_trace(p1, p2, np.full(q.size, 1.0 / q.size), k, mean_gradient)
        po = predicted_trace(p1, p2, q / q.sum(), k, mean_gradient)
        pg = np.sqrt(p1) / np.sqrt(p1).sum()
        rows["oracle"] = {"trace_vs_uniform": po / pu,
                          "grad_trace_vs_uniform": predicted_trace(p1, p2, pg, k, mean_gradient) / pu,
                          "predicted_uniform_vs_measured": pu / u["trace"]}
        log(f"  [{label}] oracle: optimal p {po / pu:.3f} of uniform, |dL/dI| with exact maps "
            f"{rows['oracle']['grad_trace_vs_uniform']:.3f}; predicted / measured uniform "
            f"{pu / u['trace']:.2f}")
        res[label] = rows
    return res


def scratch_study(R, E, n: int, spp: int, log) -> dict:
    """Bias and variance of the subset L_grad gradient (view 0) against the full render's."""
    from scratchlight.objectives import scratch_objective
    from scratchlight.fit.scratch_estimator import (refresh_scratch_sampler, scratch_sampler,
                                                    subset_scratch_gradient)

    from scratchlight.engines.subset import SubsetRenderer

    R1 = SubsetRenderer(R.scenes[0], spp=spp)
    M = R1.scenes[0].object_mask
    full = []
    t0 = time.perf_counter()
    nf = max(64, n // 4)
    for s in range(nf):
        img = R1.render_views(E, 0.3, seed=s, grad=True)[0]
        o = scratch_objective(img, E, M)
        full.append(np.ravel(R1.backprop(o.dL_dI[None])["envmap"]) + o.dL_dE.ravel())
    full = np.array(full)
    ref = full.mean(0)
    out = {"full": {"trace": float(full.var(0).sum()), "evals": nf,
                    "s_per_eval": (time.perf_counter() - t0) / nf}}
    log(f"  full      trace {out['full']['trace']:.3e} ({nf} evals)")
    for name in ("uniform", "adaptive"):
        S = scratch_sampler(name, M, BUDGET)
        rng = np.random.default_rng(4)
        est = []
        t0 = time.perf_counter()
        for k in range(n):
            if S.needs_refresh(k):
                refresh_scratch_sampler(R1, S, E, M, iteration=k, spp=spp, seed=k,
                                        roughness=0.3)
            est.append(subset_scratch_gradient(R1, E, S, rng, M, seed=50_000 + k, spp=spp,
                                               roughness=0.3).grad.ravel())
        est = np.array(est)
        d = est.mean(0) - ref
        se = np.sqrt(np.sum(est.var(0) / n + full.var(0) / nf))
        out[name] = {"trace": float(est.var(0).sum()), "evals": n, "anchors": S.k,
                     "s_per_eval": (time.perf_counter() - t0) / n,
                     "relative_bias": float(np.linalg.norm(d) / np.linalg.norm(ref)),
                     "relative_bias_se": float(se / np.linalg.norm(ref)),
                     "bias_cosine": float(d @ ref / (np.linalg.norm(d) * np.linalg.norm(ref)))}
        log(f"  {name:9s} trace {out[name]['trace']:.3e}, |mean - full| / |full| = "
            f"{out[name]['relative_bias']:.4f} (noise level {out[name]['relative_bias_se']:.4f})")
    return out

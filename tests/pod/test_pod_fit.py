"""The hit/miss GLM of MIL-HDBK-1823A: recovery of a known curve, agreement with a fit by
SciPy independent of statsmodels, a90/95 against hand computations, and the data no
curve fits."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import optimize, special, stats

from scratchlight.errors import InputError
from scratchlight.pod.analysis import analyse_light
from scratchlight.pod.fit import CHI2_ONE_SIDED_95, PodFitError, fit_hit_miss

MU, SIGMA = math.log(0.8), 0.4  # the known curve: POD = F((ln a - MU) / SIGMA)


def _draw(link: str, seed: int, per_size: int = 30, sizes=np.geomspace(0.1, 4.0, 8)):
    rng = np.random.default_rng(seed)
    a = np.repeat(sizes, per_size)
    z = (np.log(a) - MU) / SIGMA
    p = special.expit(z) if link == "logit" else special.ndtr(z)
    return a, (rng.random(a.size) < p).astype(int)


def _scipy_fit(a, y, link):
    """Maximum likelihood by hand: the negative binomial log-likelihood and its gradient,
    minimized by SciPy's BFGS (nothing of statsmodels)."""
    X = np.stack([np.ones_like(a), np.log(a)], axis=1)

    def nll(b):
        eta = X @ b
        if link == "logit":
            lp, lq = -np.logaddexp(0, -eta), -np.logaddexp(0, eta)
            g_eta = y - special.expit(eta)
        else:
            lp, lq = special.log_ndtr(eta), special.log_ndtr(-eta)
            pdf = stats.norm.pdf(eta)
            g_eta = y * pdf / np.exp(lp) - (1 - y) * pdf / np.exp(lq)
        return -np.sum(y * lp + (1 - y) * lq), -(X.T @ g_eta)

    res = optimize.minimize(nll, np.zeros(2), jac=True, method="BFGS",
                            options={"gtol": 1e-11, "maxiter": 10_000})
    return res.x, -res.fun


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_fit_agrees_with_an_independent_scipy_fit(link):
    a, y = _draw(link, seed=3)
    fit = fit_hit_miss(a, y, link)
    b, ll = _scipy_fit(a, y, link)
    assert abs(fit.b0 - b[0]) < 1e-6 and abs(fit.b1 - b[1]) < 1e-6
    assert abs(fit.log_likelihood - ll) < 1e-8


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_fit_recovers_the_known_curve_within_its_intervals(link):
    a, y = _draw(link, seed=11, per_size=60)
    fit = fit_hit_miss(a, y, link)
    se = np.sqrt(np.diag(fit.cov))
    true = np.array([-MU / SIGMA, 1.0 / SIGMA])
    z = stats.norm.ppf(0.975)
    assert np.all(np.abs(np.array([fit.b0, fit.b1]) - true) <= z * se), (fit.b0, fit.b1, se)
    assert fit.a_p(0.9) < fit.a_p_upper(0.9)  # (its coverage: the slow test below)
    assert abs(fit.a_p(0.5) - math.exp(fit.mu)) < 1e-12


def test_wald_a90_95_matches_a_hand_computation():
    a, y = _draw("logit", seed=5)
    fit = fit_hit_miss(a, y, "logit", "wald")
    # Fisher information of the logit GLM by hand: X^T diag(p (1 - p)) X
    X = np.stack([np.ones_like(a), np.log(a)], axis=1)
    p = special.expit(X @ np.array([fit.b0, fit.b1]))
    cov = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    np.testing.assert_allclose(fit.cov, cov, rtol=1e-6)
    q = math.log(9.0)  # logit(0.9)
    x = (q - fit.b0) / fit.b1
    g = np.array([-1 / fit.b1, -(q - fit.b0) / fit.b1 ** 2])
    hand = math.exp(x + 1.6448536269514722 * math.sqrt(g @ cov @ g))
    assert fit.a_p_upper(0.9) == pytest.approx(hand, rel=1e-6)


def test_lr_a90_95_is_the_largest_a90_of_the_likelihood_region():
    """Brute force: every (mu, sigma) of a dense grid whose deviance from the maximum is
    within chi-square(1, 0.90); the largest a90 among them is the bound."""
    a, y = _draw("logit", seed=7, per_size=10)
    fit = fit_hit_miss(a, y, "logit", "lr")
    x = np.log(a)
    mus = np.linspace(fit.mu - 1.5, fit.mu + 1.5, 601)
    sigmas = np.exp(np.linspace(math.log(fit.sigma) - 1.5, math.log(fit.sigma) + 1.5, 601))
    M, S = np.meshgrid(mus, sigmas, indexing="ij")
    eta = (x[None, None, :] - M[..., None]) / S[..., None]
    ll = np.sum(y * -np.logaddexp(0, -eta) + (1 - y) * -np.logaddexp(0, eta), axis=-1)
    inside = 2 * (fit.log_likelihood - ll) <= CHI2_ONE_SIDED_95
    assert inside.any() and not inside[0].any() and not inside[-1].any()  # grid holds it
    brute = np.exp(M + S * math.log(9.0))[inside].max()
    assert fit.a_p_upper(0.9) == pytest.approx(brute, rel=0.01)
    assert fit.a_p_upper(0.9) >= brute * (1 - 1e-9)  # the grid's best lies inside the region


def test_lr_band_lies_below_the_curve_and_meets_0_9_at_a90_95():
    a, y = _draw("probit", seed=2, per_size=15)
    fit = fit_hit_miss(a, y, "probit", "lr")
    grid = np.geomspace(0.1, 4, 25)
    lower = fit.pod_lower(grid)
    assert np.all(lower <= fit.pod(grid) + 1e-12) and np.all(np.diff(lower) > 0)
    assert fit.pod_lower([fit.a_p_upper(0.9)])[0] == pytest.approx(0.9, abs=1e-6)


@pytest.mark.parametrize("hits, status", [
    ([1, 1, 1, 1, 1, 1], "all-hits"),
    ([0, 0, 0, 0, 0, 0], "all-misses"),
    ([0, 0, 0, 1, 1, 1], "separated"),
    ([1, 1, 0, 1, 0, 0], "decreasing"),
])
def test_data_no_curve_fits_give_a_stated_one_line_result(hits, status):
    a = [0.5, 0.5, 1.0, 1.0, 2.0, 2.0] if status != "separated" else [0.5, 0.6, 0.9, 1.0, 2, 3]
    if status == "decreasing":
        a = [0.5, 0.5, 1.0, 1.0, 2.0, 2.0]
    with pytest.raises(PodFitError) as e:
        fit_hit_miss(a, hits)
    assert e.value.status == status and "\n" not in str(e.value)
    assert isinstance(e.value, InputError)
    rows = [{"size_um": s, "hit": h, "dprime": 3.0 * h + 0.1 * k, "orientation_deg": 0.0}
            for k, (s, h) in enumerate(zip(a, hits))]
    res = analyse_light(rows, threshold=2.0)
    assert res["hit_miss"]["status"] == status and res["hit_miss"]["a90_95"] is None
    json.dumps(res, allow_nan=False)  # no NaN anywhere


def test_one_size_and_bad_values_are_refused():
    with pytest.raises(PodFitError, match="two sizes"):
        fit_hit_miss([1.0, 1.0, 1.0], [0, 1, 1])
    with pytest.raises(InputError, match="> 0"):
        fit_hit_miss([0.0, 1.0], [0, 1])
    with pytest.raises(InputError, match="0 or 1"):
        fit_hit_miss([1.0, 2.0], [0, 2])


@pytest.mark.slow
def test_lr_a90_95_covers_the_true_a90_about_95_percent_of_the_time():
    a90_true = math.exp(MU + SIGMA * math.log(9.0))
    covered = []
    for s in range(200):
        try:
            bound = fit_hit_miss(*_draw("logit", seed=s, per_size=12)).a_p_upper(0.9)
        except PodFitError:  # a sample separated by size: no curve, no bound
            continue
        covered.append(a90_true <= (bound or math.inf))
    assert len(covered) >= 190
    rate = float(np.mean(covered))
    # binomial(n ~ 200, 0.95): 0.90 .. 0.99 holds over 99 % of its mass
    assert 0.90 <= rate <= 0.99, rate

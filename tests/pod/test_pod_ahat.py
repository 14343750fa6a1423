"""The â-versus-a model: least squares without censoring (checked against statsmodels'
OLS), recovery of a known line with censoring, and its POD curve and a90/95 by hand."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from scratchlight.errors import InputError
from scratchlight.pod.ahat import fit_ahat

B0, B1, TAU = 1.0, 1.5, 0.4


def _draw(seed, n=300):
    rng = np.random.default_rng(seed)
    a = np.exp(rng.uniform(math.log(0.1), math.log(4.0), n))
    return a, np.exp(B0 + B1 * np.log(a) + rng.normal(0, TAU, n))


def test_without_censoring_it_is_the_least_squares_line():
    import statsmodels.api as sm

    a, r = _draw(1)
    fit = fit_ahat(a, r, decision=2.0, floor=1e-6)
    assert fit.censored == 0
    ols = sm.OLS(np.log(r), sm.add_constant(np.log(a))).fit()
    assert abs(fit.b0 - ols.params[0]) < 1e-6 and abs(fit.b1 - ols.params[1]) < 1e-6
    assert fit.tau ** 2 == pytest.approx(ols.ssr / a.size, rel=1e-6)
    # the ML covariance of (b0, b1) is the OLS one with sigma^2 = RSS / n
    np.testing.assert_allclose(fit.cov[:2, :2], ols.cov_params() * (a.size - 2) / a.size,
                               rtol=1e-3)


def test_censored_fit_recovers_the_line_and_its_pod_by_hand():
    a, r = _draw(2)
    floor = 0.8
    fit = fit_ahat(a, r, decision=2.0, floor=floor)
    assert fit.censored == int(np.sum(r <= floor)) > 20
    se = np.sqrt(np.diag(fit.cov))
    for est, true, s in ((fit.b0, B0, se[0]), (fit.b1, B1, se[1]),
                         (math.log(fit.tau), math.log(TAU), se[2])):
        assert abs(est - true) <= 2.58 * s, (est, true, s)
    mu, sigma = (math.log(2.0) - fit.b0) / fit.b1, fit.tau / fit.b1
    assert fit.pod([math.exp(mu)])[0] == pytest.approx(0.5, abs=1e-12)
    a90 = math.exp(mu + stats.norm.ppf(0.9) * sigma)
    assert fit.a_p(0.9) == pytest.approx(a90, rel=1e-12)
    z = stats.norm.ppf(0.9)
    g = np.array([-1 / fit.b1, -(math.log(2.0) - fit.b0) / fit.b1 ** 2 - z * fit.tau / fit.b1 ** 2,
                  z * fit.tau / fit.b1])
    hand = math.exp(math.log(a90) + 1.6448536269514722 * math.sqrt(g @ fit.cov @ g))
    assert fit.a90_95() == pytest.approx(hand, rel=1e-9)
    assert fit.a90_95() > fit.a_p(0.9)
    low = fit.pod_lower(np.geomspace(0.1, 4, 20))
    assert np.all(low <= fit.pod(np.geomspace(0.1, 4, 20)))
    assert fit.pod_lower([fit.a90_95()])[0] == pytest.approx(0.9, abs=1e-9)


def test_too_few_responses_above_the_floor_are_refused():
    with pytest.raises(InputError, match="above the floor"):
        fit_ahat([1, 2, 3, 4], [0.0, 0.0, 5.0, 6.0], decision=2.0, floor=0.2)
    with pytest.raises(InputError, match="floor"):
        fit_ahat([1, 2, 3], [1, 2, 3], decision=2.0, floor=3.0)


def test_a_response_that_does_not_rise_with_size_is_refused():
    rng = np.random.default_rng(4)
    a = np.repeat([0.5, 1.0, 2.0, 4.0], 10)
    flat = np.exp(1.0 + rng.normal(0, 0.5, a.size))  # no dependence on size
    with pytest.raises(InputError, match="does not rise"):
        fit_ahat(a, flat, decision=2.0, floor=0.2)

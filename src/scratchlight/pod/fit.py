"""Probability of detection from hit/miss data: the GLM of MIL-HDBK-1823A and its bounds.

Each inspected defect of size a (> 0) is a hit (1) or a miss (0). The model is a binomial
GLM on log size (MIL-HDBK-1823A, 2009, section 3.5 and appendix G):

    POD(a) = F(b0 + b1 ln a) = F((ln a - mu) / sigma),   mu = -b0 / b1,  sigma = 1 / b1,

with F the logistic function (``link='logit'``) or the standard normal CDF (``'probit'``),
fitted by maximum likelihood (statsmodels' GLM, iteratively reweighted least squares). The
size a_p found with probability p is ln a_p = (F^-1(p) - b0) / b1; a50 and a90 are the
point estimates. a90/95 is the one-sided 95 % upper confidence bound on a90, the size
found with 90 % probability at 95 % confidence, by one of two methods:

- ``'lr'`` (the handbook's recommendation): the likelihood-ratio (profile likelihood)
  bound. The confidence region is {theta : 2 (l_max - l(theta)) <= c} with c the 0.90
  quantile of chi-square with 1 degree of freedom (2.7055, one-sided 95 %); a90/95 is the
  largest a90 of any theta in it: the profile log-likelihood of x = ln a90 (maximized over
  b1 with b0 = F^-1(0.9) - b1 x) falls by c / 2 at x = ln a90/95. The lower band of the
  POD curve is the smallest POD(a) in the same region, point by point.
- ``'wald'`` (the handbook's older standard alternative): the delta method, ln a90/95 =
  ln a90 + z_0.95 se(ln a90), with se from the inverse Fisher information of (b0, b1).

Sizes are in whatever unit the caller uses (the ``pod`` command uses micrometres); b0 and
mu depend on it, b1 and sigma do not. Data the GLM cannot fit (fewer than two sizes, all
hits, all misses, hits and misses separated by size, or a POD that falls with size) raise
:class:`PodFitError`, an ``InputError`` whose ``status`` says which and whose message is
one line that states what the data do show.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, special, stats

from ..errors import InputError
from .config import LINKS

__all__ = ["LINKS", "CHI2_ONE_SIDED_95", "PodFitError", "HitMissFit", "fit_hit_miss",
           "log_likelihood", "link_cdf", "link_quantile"]

CHI2_ONE_SIDED_95 = float(stats.chi2.ppf(0.90, 1))
"""Critical value of the likelihood-ratio bound: chi-square(1) at 0.90 (one-sided 95 %)."""
Z95 = float(stats.norm.ppf(0.95))


class PodFitError(InputError):
    """Hit/miss data no POD curve can be fitted to. ``status``: 'too-few', 'all-hits',
    'all-misses', 'separated' or 'decreasing'."""

    def __init__(self, status: str, problem: str):
        self.status = status
        super().__init__("hits", problem)


def link_cdf(link: str, eta):
    """F(eta): the logistic function or the standard normal CDF."""
    return special.expit(eta) if link == "logit" else special.ndtr(eta)


def link_quantile(link: str, p):
    """F^-1(p): the logit or the probit of p."""
    return special.logit(p) if link == "logit" else special.ndtri(p)


def _log_f(link: str, eta):
    """ln F(eta) and ln (1 - F(eta)), computed without cancellation."""
    if link == "logit":
        return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    return special.log_ndtr(eta), special.log_ndtr(-eta)


def log_likelihood(b0: float, b1: float, log_a: np.ndarray, hits: np.ndarray,
                   link: str = "logit") -> float:
    """Binomial log-likelihood sum_i [y_i ln F(eta_i) + (1 - y_i) ln(1 - F(eta_i))],
    eta_i = b0 + b1 ln a_i; ``log_a`` and ``hits`` (n,) arrays."""
    eta = b0 + b1 * np.asarray(log_a, np.float64)
    lp, lq = _log_f(link, eta)
    y = np.asarray(hits, np.float64)
    return float(np.sum(y * lp + (1.0 - y) * lq))


@dataclasses.dataclass
class HitMissFit:
    """A fitted POD curve. Sizes in the caller's unit; ``log`` is the natural logarithm."""

    link: str
    method: str
    b0: float
    b1: float
    cov: np.ndarray
    """(2, 2) covariance of (b0, b1), the inverse Fisher information."""
    log_likelihood: float
    n: int
    hits: int
    log_a: np.ndarray
    y: np.ndarray

    @property
    def mu(self) -> float:
        """ln a50."""
        return -self.b0 / self.b1

    @property
    def sigma(self) -> float:
        """Spread of the curve on ln a: 1 / b1."""
        return 1.0 / self.b1

    def pod(self, a) -> np.ndarray:
        """POD(a) of the fitted curve, for sizes ``a`` (> 0)."""
        return link_cdf(self.link, self.b0 + self.b1 * np.log(np.asarray(a, np.float64)))

    def a_p(self, p: float) -> float:
        """The size found with probability ``p``: exp((F^-1(p) - b0) / b1); inf for a
        curve so flat that the size is beyond any float (``write_json`` writes null)."""
        with np.errstate(over="ignore"):
            return float(np.exp((link_quantile(self.link, p) - self.b0) / self.b1))

    def a_p_upper(self, p: float = 0.9) -> float | None:
        """One-sided 95 % upper bound of a_p by :attr:`method`; None when the data do not
        bound it (the profile likelihood never falls far enough)."""
        x = _wald_upper(self, p) if self.method == "wald" else _lr_upper(self, p)
        return None if x is None else float(np.exp(x))

    def pod_lower(self, a) -> np.ndarray:
        """(len(a),) the one-sided 95 % lower confidence band of POD at sizes ``a``."""
        log_a = np.log(np.asarray(a, np.float64)).ravel()
        if self.method == "wald":
            g = np.stack([np.ones_like(log_a), log_a], axis=1)
            se = np.sqrt(np.einsum("ij,jk,ik->i", g, self.cov, g))
            return link_cdf(self.link, self.b0 + self.b1 * log_a - Z95 * se)
        return link_cdf(self.link, np.array([_lr_lower_eta(self, x) for x in log_a]))

    def summary(self) -> dict:
        """The fit as plain numbers: coefficients, mu, sigma, a50, a90, a90/95."""
        a9095 = self.a_p_upper(0.9)
        se = np.sqrt(np.diag(self.cov))
        return {"link": self.link, "method": self.method, "b0": self.b0, "b1": self.b1,
                "se_b0": float(se[0]), "se_b1": float(se[1]),
                "cov_b0_b1": float(self.cov[0, 1]), "mu": self.mu, "sigma": self.sigma,
                "a50": self.a_p(0.5), "a90": self.a_p(0.9), "a90_95": a9095,
                "log_likelihood": self.log_likelihood, "n": self.n, "hits": self.hits,
                "critical_chi2": CHI2_ONE_SIDED_95 if self.method == "lr" else None,
                "note": "" if a9095 is not None else
                "the data do not bound a90 from above at 95 % confidence"}


def _check_data(sizes, hits) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(sizes, np.float64).ravel()
    y = np.asarray(hits).ravel()
    if a.shape != y.shape:
        raise InputError("hits", f"{a.size} sizes but {y.size} hit/miss values")
    if not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise InputError("sizes", "every size must be a finite number > 0")
    if not np.all(np.isin(y, (0, 1, True, False))):
        raise InputError("hits", "hit/miss values must be 0 or 1")
    y = y.astype(np.float64)
    if np.unique(a).size < 2:
        raise PodFitError("too-few", f"all {a.size} defects have one size ({a[0]:.4g}): POD "
                                     "against size needs at least two sizes")
    if y.all():
        raise PodFitError("all-hits", f"all {a.size} defects were hits, down to the smallest "
                                      f"size {a.min():.4g}: a90 lies below it; sweep smaller "
                                      "sizes")
    if not y.any():
        raise PodFitError("all-misses", f"all {a.size} defects were misses, up to the largest "
                                        f"size {a.max():.4g}: a50 lies above it; sweep larger "
                                        "sizes or use a better light")
    miss_max, hit_min = a[y == 0].max(), a[y == 1].min()
    if miss_max <= hit_min:
        raise PodFitError("separated", f"every miss (up to {miss_max:.4g}) is no larger than "
                                       f"every hit (from {hit_min:.4g}): the POD curve is a step "
                                       "there and its slope cannot be estimated; sweep sizes "
                                       "between them or add seeds")
    return a, y


def fit_hit_miss(sizes, hits, link: str = "logit", method: str = "lr") -> HitMissFit:
    """Fit POD(a) = F(b0 + b1 ln a) to hit/miss data by statsmodels' binomial GLM.

    Args:
        sizes: (n,) defect sizes > 0 (any unit; the fit is on their natural log).
        hits: (n,) 1 for a hit, 0 for a miss.
        link: 'logit' or 'probit'.
        method: how a90/95 and the band are bounded: 'lr' (likelihood ratio) or 'wald'.

    Raises:
        PodFitError: for data no curve fits (see the module docstring), one line.
        InputError: for sizes <= 0 or hit values other than 0 and 1.
    """
    import warnings

    import statsmodels.api as sm

    if link not in LINKS:
        raise InputError("link", f"must be one of {', '.join(LINKS)}, got {link!r}")
    if method not in ("lr", "wald"):
        raise InputError("method", f"must be 'lr' or 'wald', got {method!r}")
    a, y = _check_data(sizes, hits)
    log_a = np.log(a)
    X = np.stack([np.ones_like(log_a), log_a], axis=1)
    links = sm.families.links
    family = sm.families.Binomial(links.Logit() if link == "logit" else links.Probit())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked below, not warned about
        res = sm.GLM(y, X, family=family).fit(tol=1e-12, maxiter=200)
    b0, b1 = (float(v) for v in res.params)
    if not (np.isfinite(b0) and np.isfinite(b1)):
        raise PodFitError("separated", "the fit did not converge: hits and misses are "
                                       "(nearly) separated by size; sweep sizes between them")
    if b1 <= 0:
        raise PodFitError("decreasing", f"POD does not rise with size (slope {b1:.3g} on ln "
                                        "size): the sizes swept do not change detection; "
                                        "sweep a wider range")
    fit = HitMissFit(link=link, method=method, b0=b0, b1=b1,
                     cov=np.asarray(res.cov_params(), np.float64), log_likelihood=float(res.llf),
                     n=int(a.size), hits=int(y.sum()), log_a=log_a, y=y)
    # statsmodels' llf and ours must be the same function (the profiles below use ours)
    fit.log_likelihood = log_likelihood(b0, b1, log_a, y, link)
    return fit


# ------------------------------------------------------------------ confidence bounds
def _wald_upper(fit: HitMissFit, p: float) -> float:
    """ln a_p + z_0.95 se(ln a_p), se by the delta method."""
    q = float(link_quantile(fit.link, p))
    x = (q - fit.b0) / fit.b1
    g = np.array([-1.0 / fit.b1, -(q - fit.b0) / fit.b1 ** 2])
    return x + Z95 * math.sqrt(float(g @ fit.cov @ g))


def _profile(fit: HitMissFit, eta0: float, x: float) -> float:
    """max over b1 of the log-likelihood with the curve pinned at eta(x) = eta0, i.e.
    b0 = eta0 - b1 x (concave in b1: one maximum)."""
    def nll(b1):
        return -log_likelihood(eta0 - b1 * x, b1, fit.log_a, fit.y, fit.link)

    # bracket around the free fit's slope; the pinned maximum lies within a few of it
    scale = max(abs(fit.b1), 1e-3)
    res = optimize.minimize_scalar(nll, bracket=(fit.b1 - 0.1 * scale, fit.b1),
                                   options={"xtol": 1e-12})
    return -float(res.fun)


def _deficit(fit: HitMissFit, eta0: float, x: float) -> float:
    """2 (l_max - profile) - c: negative inside the confidence region."""
    return 2.0 * (fit.log_likelihood - _profile(fit, eta0, x)) - CHI2_ONE_SIDED_95


def _lr_upper(fit: HitMissFit, p: float) -> float | None:
    """The largest ln a_p in the likelihood-ratio region (profile root above the MLE)."""
    q = float(link_quantile(fit.link, p))
    x_hat = (q - fit.b0) / fit.b1
    span = float(np.ptp(fit.log_a)) or 1.0
    step = 0.05 * span
    lo, hi = x_hat, x_hat + step
    while _deficit(fit, q, hi) < 0:
        lo, hi = hi, hi + step
        step *= 2
        if hi - x_hat > 20 * span:
            return None
    return float(optimize.brentq(lambda x: _deficit(fit, q, x), lo, hi, xtol=1e-10))


def _lr_lower_eta(fit: HitMissFit, x: float) -> float:
    """The smallest eta(x) = b0 + b1 x in the likelihood-ratio region."""
    eta_hat = fit.b0 + fit.b1 * x
    step = 0.5
    lo, hi = eta_hat - step, eta_hat
    while _deficit(fit, lo, x) < 0:
        hi, lo = lo, lo - step
        step *= 2
        if eta_hat - lo > 60:
            return -math.inf
    return float(optimize.brentq(lambda e: _deficit(fit, e, x), lo, hi, xtol=1e-10))

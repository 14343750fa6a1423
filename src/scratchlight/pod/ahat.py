"""Probability of detection from signal response: the â-versus-a model of MIL-HDBK-1823A.

The response â of a defect of size a (here the observer's d') follows

    ln â = b0 + b1 ln a + e,   e ~ N(0, tau^2),

with responses below the recording floor ``floor`` left-censored (only "â <= floor" is
known: a d' of 0 has no logarithm). The parameters are the maximum-likelihood estimates of
this censored (Tobit) regression (SciPy's BFGS on (b0, b1, ln tau); without censored
points they are the ordinary least-squares line and tau^2 = RSS / n), their covariance the
inverse of the numerical Hessian of the negative log-likelihood. A defect is detected when
â >= â_dec (the hit/miss threshold), so

    POD(a) = Phi((ln a - mu) / sigma),   mu = (ln â_dec - b0) / b1,   sigma = tau / b1,

and a90/95 is the handbook's Wald (delta-method) bound: ln a90 + z_0.95 se(ln a90) with
the gradient of ln a90 = mu + z_0.9 sigma with respect to (b0, b1, ln tau).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import optimize, special, stats

from ..errors import InputError

__all__ = ["AhatFit", "fit_ahat"]

Z90, Z95 = float(stats.norm.ppf(0.90)), float(stats.norm.ppf(0.95))


def _nll(theta, x, z, censored, log_floor) -> float:
    b0, b1, log_tau = theta
    tau = math.exp(log_tau)
    m = b0 + b1 * x
    r = (z[~censored] - m[~censored]) / tau
    ll = np.sum(-0.5 * r * r - log_tau - 0.5 * math.log(2 * math.pi))
    ll += np.sum(special.log_ndtr((log_floor - m[censored]) / tau))
    return -float(ll)


@dataclasses.dataclass
class AhatFit:
    """A fitted â-versus-a line and the POD curve it implies (sizes in the caller's unit)."""

    b0: float
    b1: float
    tau: float
    cov: np.ndarray
    """(3, 3) covariance of (b0, b1, ln tau)."""
    decision: float
    floor: float
    n: int
    censored: int

    @property
    def mu(self) -> float:
        return (math.log(self.decision) - self.b0) / self.b1

    @property
    def sigma(self) -> float:
        return self.tau / self.b1

    def pod(self, a) -> np.ndarray:
        return special.ndtr((np.log(np.asarray(a, np.float64)) - self.mu) / self.sigma)

    def a_p(self, p: float) -> float:
        """exp(mu + Phi^-1(p) sigma); inf where it overflows (a nearly flat line)."""
        with np.errstate(over="ignore"):
            return float(np.exp(self.mu + float(special.ndtri(p)) * self.sigma))

    def _grad_log_a(self, z: float) -> np.ndarray:
        L = math.log(self.decision)
        d_mu = np.array([-1.0 / self.b1, -(L - self.b0) / self.b1 ** 2, 0.0])
        d_sigma = np.array([0.0, -self.tau / self.b1 ** 2, self.tau / self.b1])
        return d_mu + z * d_sigma

    def a90_95(self) -> float | None:
        """Upper 95 % bound of a90 by the delta method; None where it is not finite."""
        x = self._upper_log_a(Z90)
        with np.errstate(over="ignore", invalid="ignore"):
            v = float(np.exp(x))
        return v if math.isfinite(v) else None

    def _upper_log_a(self, z: float) -> float:
        """ln of the upper 95 % bound of the size found with probability Phi(z)."""
        g = self._grad_log_a(z)
        return self.mu + z * self.sigma + Z95 * math.sqrt(max(float(g @ self.cov @ g), 0.0))

    def pod_lower(self, a) -> np.ndarray:
        """One-sided 95 % lower band of POD(a): the p whose upper-bounded size a_p/95 is a
        (the inverse of the delta-method bound of every quantile; 0 or 1 beyond +-8 sd)."""
        out = []
        for la in np.log(np.asarray(a, np.float64)).ravel():
            f = lambda z: self._upper_log_a(z) - la  # noqa: E731  (rises with z)
            if f(-8.0) >= 0:
                out.append(0.0)
            elif f(8.0) <= 0:
                out.append(1.0)
            else:
                out.append(float(special.ndtr(optimize.brentq(f, -8.0, 8.0, xtol=1e-12))))
        return np.asarray(out)

    def summary(self) -> dict:
        return {"model": "ln ahat = b0 + b1 ln a (censored below the floor)",
                "b0": self.b0, "b1": self.b1, "tau": self.tau,
                "decision_ahat": self.decision, "floor_ahat": self.floor, "n": self.n,
                "censored": self.censored, "mu": self.mu, "sigma": self.sigma,
                "a50": self.a_p(0.5), "a90": self.a_p(0.9), "a90_95": self.a90_95(),
                "method": "wald (delta method)"}


def fit_ahat(sizes, responses, decision: float, floor: float) -> AhatFit:
    """Fit the censored â-versus-a line; responses <= ``floor`` are censored.

    Args:
        sizes: (n,) sizes > 0; responses: (n,) â >= 0 (here d').
        decision: â_dec > floor, the response at which a defect counts as found.
        floor: the recording floor > 0 (responses at or below it are censored).
    Raises:
        InputError (field 'responses') when fewer than 3 responses lie above the floor, the
        sizes above it are all one, or the slope is not above 0 at one-sided 95 %
        confidence (b1 <= 1.645 se(b1): no POD curve worth its name).
    """
    a = np.asarray(sizes, np.float64).ravel()
    r = np.asarray(responses, np.float64).ravel()
    if a.shape != r.shape or not np.all(np.isfinite(a)) or np.any(a <= 0) \
            or not np.all(np.isfinite(r)):
        raise InputError("responses", "need as many finite responses as sizes > 0")
    if not 0 < floor < decision:
        raise InputError("floor", f"need 0 < floor < decision, got {floor}, {decision}")
    censored = r <= floor
    if np.ptp(np.log(r[~censored])) < 1e-9 if (~censored).any() else False:
        raise InputError("responses", "every response above the floor is the same: no line")
    if (~censored).sum() < 3 or np.unique(a[~censored]).size < 2:
        raise InputError("responses", f"only {(~censored).sum()} responses above the floor "
                                      f"{floor:g} (at {np.unique(a[~censored]).size} sizes): "
                                      "the â-versus-a line needs 3 at 2 sizes")
    x = np.log(a)
    z = np.log(np.where(censored, floor, r))
    # start from the least-squares line of the uncensored points
    b1, b0 = np.polyfit(x[~censored], z[~censored], 1)
    res0 = z[~censored] - (b0 + b1 * x[~censored])
    theta0 = np.array([b0, b1, math.log(max(float(np.std(res0)), 1e-3))])
    args = (x, z, censored, math.log(floor))
    res = optimize.minimize(_nll, theta0, args=args, method="BFGS", options={"gtol": 1e-9})
    theta = res.x
    from statsmodels.tools.numdiff import approx_hess3

    H = approx_hess3(theta, _nll, args=args)
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        raise InputError("responses", "the â-versus-a fit is singular") from None
    se_b1 = math.sqrt(cov[1, 1]) if np.all(np.isfinite(cov)) and cov[1, 1] > 0 else math.inf
    if not theta[1] > Z95 * se_b1:
        raise InputError("responses", f"the response does not rise with size at 95 % "
                                      f"confidence (slope {theta[1]:.3g} +- {se_b1:.2g} on ln a)")
    return AhatFit(b0=float(theta[0]), b1=float(theta[1]), tau=float(math.exp(theta[2])),
                   cov=cov, decision=float(decision), floor=float(floor), n=int(a.size),
                   censored=int(censored.sum()))

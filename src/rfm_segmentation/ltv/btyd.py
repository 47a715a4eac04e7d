"""The classic "buy till you die" customer-base models, from their published likelihoods.

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
  Science 24(2)): while alive a customer buys as a Poisson process of rate λ ~ Gamma(r, α);
  after each purchase they drop out with probability p ~ Beta(a, b). Inputs per customer:
  ``x`` repeat purchases, ``t_x`` time of the last purchase and ``T`` age, both measured from
  the first purchase. Fitted by maximum likelihood (eq. 6 of the paper), predicted with the
  conditional expectation of purchases in (T, T + t] (eq. 10).
* **Gamma-Gamma** spend model (Fader, Hardie & Lee 2005, "RFM and CLV", JMR 42(4); Colombo &
  Jiang 1999): each transaction's value ~ Gamma(p, ν) with ν ~ Gamma(q, γ) across customers,
  independent of the purchase process. Inputs: number of transactions ``x`` and their mean
  ``m``. Predicted with the posterior expected mean transaction value.

No maintained library does this offline without heavy dependencies (``lifetimes`` is archived
since 2020, ``btyd`` needs PyMC 4), so both are written here with scipy and checked against the
papers' CDNOW estimates (tests/python/test_ltv_models.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

Array = npt.NDArray[np.float64]

_LOG_BOUNDS = (-12.0, 12.0)


class FitError(RuntimeError):
    """The data cannot identify the model (e.g. nobody ever bought twice)."""


def _fit(negative_ll: object, start: Array) -> Array:
    """Minimise a negative mean log-likelihood over log-parameters, by Powell's method then a
    Nelder-Mead polish.

    Both are derivative-free and call no BLAS. A quasi-Newton method such as L-BFGS-B does, and
    OpenBLAS chooses its kernels per process (by CPU, or by ``OPENBLAS_CORETYPE``), whose dot
    products round differently: two processes on one machine then fit parameters that differ in
    the last bits, and predictions that differ in the stored digits."""
    bounds = [_LOG_BOUNDS] * len(start)
    result = optimize.minimize(
        negative_ll,  # type: ignore[arg-type]
        start,
        method="Powell",
        bounds=bounds,
        options={"maxiter": 4000, "xtol": 1e-8, "ftol": 1e-12},
    )
    polished = optimize.minimize(
        negative_ll,  # type: ignore[arg-type]
        result.x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"maxiter": 4000, "xatol": 1e-8, "fatol": 1e-12},
    )
    best = polished if polished.fun <= result.fun else result
    if not np.all(np.isfinite(best.x)) or not np.isfinite(best.fun):
        raise FitError("the likelihood could not be maximised")
    return np.exp(best.x)


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model (time unit: whatever t_x, T were measured in)."""

    r: float
    alpha: float
    a: float
    b: float

    @staticmethod
    def log_likelihood(params: Array, x: Array, t_x: Array, T: Array) -> Array:  # noqa: N803
        """Per-customer log-likelihood, FHL (2005) eq. 6."""
        r, alpha, a, b = params
        a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
        a2 = (special.gammaln(a + b) + special.gammaln(b + x)
              - special.gammaln(b) - special.gammaln(a + b + x))
        a3 = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
        return a1 + a2 + np.logaddexp(a3, a4)

    @classmethod
    def fit(cls, x: Array, t_x: Array, T: Array) -> BetaGeo:  # noqa: N803
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))  # noqa: N806
        if len(x) == 0:
            raise FitError("no customers")
        if not np.any(x > 0):
            raise FitError("no customer bought twice: BG/NBD cannot be identified")
        if np.any(t_x > T) or np.any(t_x < 0) or np.any(x < 0):
            raise ValueError("expected 0 <= t_x <= T and x >= 0")
        scale = float(np.mean(T)) or 1.0

        def negative_ll(theta: Array) -> float:
            params = np.exp(theta)
            value = -np.mean(cls.log_likelihood(params, x, t_x, T))
            return float(value) if np.isfinite(value) else 1e12

        start = np.log(np.array([1.0, scale, 1.0, 1.0]))
        r, alpha, a, b = _fit(negative_ll, start)
        return cls(float(r), float(alpha), float(a), float(b))

    def _alive_odds(self, x: Array, t_x: Array, T: Array) -> Array:  # noqa: N803
        """δ(x>0) · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x), overflow-safe."""
        repeat = x > 0
        log_odds = (np.log(self.a) - np.log(np.where(repeat, self.b + x - 1, 1.0))
                    + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x)))
        return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def probability_alive(self, x: Array, t_x: Array, T: Array) -> Array:  # noqa: N803
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))  # noqa: N806
        return 1.0 / (1.0 + self._alive_odds(x, t_x, T))

    def expected_purchases(self, x: Array, t_x: Array, T: Array, t: Array) -> Array:  # noqa: N803
        """E[purchases in (T, T + t] | x, t_x, T], FHL (2005) eq. 10.

        The Gauss hypergeometric term is rewritten with Euler's transformation,
        2F1(r+x, b+x; a+b+x-1; z) (1-z)^(r+x) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),
        which stays finite for heavy buyers (large x)."""
        x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))  # noqa: N806
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        if abs(a - 1.0) < 1e-9:  # removable singularity of eq. 10
            a = 1.0 + 1e-9
        z = t / (alpha + T + t)
        transformed = (1.0 - z) ** (a - 1.0) * special.hyp2f1(a + b - 1.0 - r, a - 1.0,
                                                              a + b + x - 1.0, z)
        numerator = (a + b + x - 1.0) / (a - 1.0) * (1.0 - transformed)
        expected = numerator / (1.0 + self._alive_odds(x, t_x, T))
        return np.maximum(np.nan_to_num(expected, nan=0.0, posinf=0.0), 0.0)


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model."""

    p: float
    q: float
    gamma: float

    @staticmethod
    def log_likelihood(params: Array, x: Array, m: Array) -> Array:
        """Per-customer log-likelihood of the mean ``m`` of ``x`` transactions."""
        p, q, gamma = params
        px = p * x
        return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
                + q * np.log(gamma) + (px - 1.0) * np.log(m) + px * np.log(x)
                - (px + q) * np.log(x * m + gamma))

    @classmethod
    def fit(cls, x: Array, m: Array) -> GammaGamma:
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        keep = (x > 0) & (m > 0)
        x, m = x[keep], m[keep]
        if len(x) < 2:
            raise FitError("fewer than two customers with a spend")

        def negative_ll(theta: Array) -> float:
            value = -np.mean(cls.log_likelihood(np.exp(theta), x, m))
            return float(value) if np.isfinite(value) else 1e12

        start = np.log(np.array([1.0, 2.0, float(np.mean(m))]))
        p, q, gamma = _fit(negative_ll, start)
        return cls(float(p), float(q), float(gamma))

    def expected_spend(self, x: Array, m: Array) -> Array:
        """Posterior mean transaction value: p (γ + x m) / (p x + q - 1); the population mean
        p γ / (q - 1) for x = 0. Needs q > 1 (else the mean spend is infinite: falls back to
        the customer's own mean, or the sample mean)."""
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        m = np.where(x > 0, m, 0.0)
        if self.q <= 1.0:
            return np.where(x > 0, m, float(np.mean(m[x > 0])) if np.any(x > 0) else 0.0)
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1.0)

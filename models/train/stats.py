"""Small statistics shared by the evaluation scripts (standard library only, so that
`scripts/eval-clips` runs without the training packages)."""

from __future__ import annotations

import math


def poisson_upper(k: int, conf: float = 0.95) -> float:
    """Exact one-sided upper confidence bound of a Poisson mean after k events (bisection on the
    CDF; equals chi2.ppf(conf, 2k + 2) / 2)."""

    def cdf(mu: float) -> float:
        term = total = math.exp(-mu)
        for i in range(1, k + 1):
            term *= mu / i
            total += term
        return total

    lo, hi = 0.0, 10.0 + 10.0 * k
    for _ in range(200):
        mid = (lo + hi) / 2
        if cdf(mid) > 1 - conf:
            lo = mid
        else:
            hi = mid
    return hi

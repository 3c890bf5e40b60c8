"""Statistics for success rates out of a few trials.

With 20 trials a rate of 17/20 has a 95% interval of roughly 64%..95%; the
normal-approximation ("Wald") interval is wrong at such sizes and at 0/n and
n/n, so we use the Wilson score interval. Two engines are compared with
Fisher's exact test (scipy) when available, else a two-proportion z-test
(pooled); both are two-sided.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: two-sided 95% normal quantile
Z95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return 0.0, 1.0
    n = float(trials)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    lo, hi = max(0.0, centre - half), min(1.0, centre + half)
    # exact bounds at the edges (float noise would otherwise give 1e-17 instead of 0)
    if successes == 0:
        lo = 0.0
    if successes == trials:
        hi = 1.0
    return lo, hi


def _norm_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def two_proportion_z_test(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of H0: p1 == p2 (pooled z-test). 1.0 when undefined (no variance)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    p = (k1 + k2) / (n1 + n2)
    se = math.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    if se == 0.0:
        return 1.0
    z = (k1 / n1 - k2 / n2) / se
    return min(1.0, 2.0 * _norm_sf(abs(z)))


@dataclass(frozen=True)
class Comparison:
    p_value: float
    test: str  # "fisher" | "z"
    difference: float  # rate1 - rate2


def compare_rates(k1: int, n1: int, k2: int, n2: int) -> Comparison:
    """Two-sided test that two success rates differ: Fisher exact if scipy is installed, else z-test."""
    diff = (k1 / n1 if n1 else 0.0) - (k2 / n2 if n2 else 0.0)
    if n1 <= 0 or n2 <= 0:
        return Comparison(1.0, "none", diff)
    try:
        from scipy.stats import fisher_exact
    except ImportError:
        return Comparison(two_proportion_z_test(k1, n1, k2, n2), "z", diff)
    _, p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")
    return Comparison(float(min(1.0, p)), "fisher", diff)

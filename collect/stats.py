"""Summary statistics over repetitions of one measurement."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Summary:
    count: int
    median: float
    minimum: float
    maximum: float
    cv: float  # coefficient of variation: sample standard deviation / mean (0 for one value)

    @property
    def spread(self) -> float:
        """(max - min) / median: how far apart the repetitions landed."""
        return (self.maximum - self.minimum) / self.median if self.median else 0.0


def summarize(values) -> Summary:
    values = [float(value) for value in values]
    if not values:
        raise ValueError("no values to summarize")
    mean = statistics.fmean(values)
    cv = statistics.stdev(values) / mean if len(values) > 1 and mean else 0.0
    return Summary(
        count=len(values),
        median=statistics.median(values),
        minimum=min(values),
        maximum=max(values),
        cv=cv,
    )


def median_confidence_interval(values, confidence: float = 0.95):
    """Distribution-free confidence interval of the median, from order statistics.

    The interval [x_(k), x_(n-k+1)] covers the true median with probability at least
    ``confidence`` when k is the largest rank whose binomial tail is small enough. None when
    there are too few values for any such interval (fewer than 6 at 95%).
    """
    ordered = sorted(float(value) for value in values)
    n = len(ordered)
    alpha = 1.0 - confidence
    tail = 0.0
    rank = 0
    for k in range(n // 2 + 1):
        tail += math.comb(n, k) / 2**n  # P(Binomial(n, 1/2) <= k)
        if tail > alpha / 2:
            break
        rank = k + 1
    if rank == 0:
        return None
    return ordered[rank - 1], ordered[n - rank]


def relative_half_width(values, confidence: float = 0.95):
    """How far the median's confidence interval reaches, relative to the median (None: no CI)."""
    interval = median_confidence_interval(values, confidence)
    if interval is None:
        return None
    middle = statistics.median(values)
    return max(middle - interval[0], interval[1] - middle) / middle if middle else None


def two_sided_t_probability(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with ``df`` (a whole number) degrees of freedom.

    The closed form for whole degrees of freedom (Abramowitz and Stegun 26.7.3 and 26.7.4):
    a finite series in cos θ, θ = atan(t / √df); no special-function library needed.
    """
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    cos2 = math.cos(theta) ** 2
    if df % 2 == 1:
        series, term = 0.0, 1.0
        for k in range(1, (df - 1) // 2 + 1):  # 1 + 2/3 cos² + (2·4)/(3·5) cos⁴ + ...
            series += term
            term *= cos2 * (2 * k) / (2 * k + 1)
        return 2 / math.pi * (theta + math.sin(theta) * math.cos(theta) * series)
    series, term = 0.0, 1.0
    for k in range(1, df // 2 + 1):  # 1 + 1/2 cos² + (1·3)/(2·4) cos⁴ + ...
        series += term
        term *= cos2 * (2 * k - 1) / (2 * k)
    return math.sin(theta) * series


# Above these degrees of freedom the expansion around the normal quantile is exact to 1e-7,
# and the closed-form series (df/2 terms per step of the bisection) would only cost time.
EXPANSION_FROM_DF = 200


def student_t_quantile(confidence: float, df: int) -> float:
    """The t with P(|T| < t) = ``confidence``: the multiplier of a two-sided interval.

    Found by bisection on the closed-form probability (monotone in t), to 1e-9; for many
    degrees of freedom from the Cornish-Fisher expansion (Abramowitz and Stegun 26.7.5).
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    if df > EXPANSION_FROM_DF:
        z = statistics.NormalDist().inv_cdf((1 + confidence) / 2)
        return (
            z
            + (z**3 + z) / (4 * df)
            + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
        )
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, not {df}")
    low, high = 0.0, 1.0
    while two_sided_t_probability(high, df) < confidence:
        high *= 2
    while high - low > 1e-9:
        middle = (low + high) / 2
        if two_sided_t_probability(middle, df) < confidence:
            low = middle
        else:
            high = middle
    return (low + high) / 2

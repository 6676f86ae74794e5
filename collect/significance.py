"""Is a difference between two sets of repetitions more than noise?

The two-sided Mann–Whitney U test: it assumes nothing about the shape of the distribution
(benchmark rates on a shared machine are skewed, with slow outliers), only that the
repetitions are independent. With no ties the p-value is exact, from the distribution of U
counted over every arrangement; with ties it uses the normal approximation with the tie
correction.

A ratio with its interval (``median_ratio``, for server hosts side by side): the ratio of the
two medians, times or divided by exp(t · SE), where SE and the degrees of freedom are Welch's,
from each side's ln(rate). Logarithms because a ratio's uncertainty is a factor, not an
amount; Welch because the two sides were measured at the same time but not in matched pairs,
and need not spread alike. The verdict is the same t: significant exactly when the interval
leaves out 1. Mann–Whitney gives no interval, and cannot reach 5% below 4 repetitions a side.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from functools import cache

from collect.stats import student_t_quantile, two_sided_t_probability

EXACT = "exact"
NORMAL = "normal approximation with tie correction"


@dataclass(frozen=True)
class TestResult:
    u: float
    p_value: float
    method: str  # EXACT or NORMAL


def ranks(values):
    """Ranks 1..n with ties given their average rank; also the tie group sizes."""
    ordered = sorted(range(len(values)), key=lambda i: values[i])
    result = [0.0] * len(values)
    groups = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and values[ordered[end + 1]] == values[ordered[start]]:
            end += 1
        for position in range(start, end + 1):
            result[ordered[position]] = (start + end) / 2 + 1
        groups.append(end - start + 1)
        start = end + 1
    return result, groups


@cache
def arrangements(u: int, n1: int, n2: int) -> int:
    """How many orderings of n1 x's and n2 y's have exactly u (x, y) pairs with x > y."""
    if u < 0 or u > n1 * n2:
        return 0
    if n1 == 0 or n2 == 0:
        return 1 if u == 0 else 0
    # The largest value is an x (it beats all n2 y's) or a y (it beats nothing).
    return arrangements(u - n2, n1 - 1, n2) + arrangements(u, n1, n2 - 1)


def mann_whitney(first, second) -> TestResult:
    first, second = [float(v) for v in first], [float(v) for v in second]
    n1, n2 = len(first), len(second)
    if not n1 or not n2:
        raise ValueError("each side needs at least one value")
    all_ranks, ties = ranks(first + second)
    u1 = sum(all_ranks[:n1]) - n1 * (n1 + 1) / 2
    u = min(u1, n1 * n2 - u1)
    if all(size == 1 for size in ties):
        total = math.comb(n1 + n2, n1)
        tail = sum(arrangements(k, n1, n2) for k in range(int(u) + 1)) / total
        return TestResult(u=u, p_value=min(1.0, 2 * tail), method=EXACT)
    n = n1 + n2
    mean = n1 * n2 / 2
    tie_term = sum(size**3 - size for size in ties) / (n * (n - 1))
    variance = n1 * n2 / 12 * ((n + 1) - tie_term)
    if variance <= 0:  # every value equal: no evidence of any difference
        return TestResult(u=u, p_value=1.0, method=NORMAL)
    z = (abs(u1 - mean) - 0.5) / math.sqrt(variance)  # 0.5: continuity correction
    p_value = math.erfc(max(z, 0.0) / math.sqrt(2))
    return TestResult(u=u, p_value=min(1.0, p_value), method=NORMAL)


def smallest_p_value(n1: int, n2: int) -> float:
    """The smallest two-sided p-value these sample sizes can give (no ties)."""
    return min(1.0, 2 / math.comb(n1 + n2, n1))


@dataclass(frozen=True)
class Difference:
    """What ``collect compare`` says of two sets of repetitions of one cell."""

    p_value: float
    method: str
    significant: bool  # p < alpha
    testable: bool  # these sample sizes can reach alpha at all


def difference_test(first, second, alpha: float = 0.05) -> Difference:
    result = mann_whitney(first, second)
    return Difference(
        p_value=result.p_value,
        method=result.method,
        significant=result.p_value < alpha,
        testable=smallest_p_value(len(first), len(second)) < alpha,
    )


# How median_ratio's interval and verdict are made, in the report's words.
RATIO_METHOD = (
    "the ratio of the two medians, with a 95% interval of that ratio ×/÷ exp(t·SE): SE = "
    "√(s₁²/n₁ + s₂²/n₂) over each side's ln(requests/s), t Student's at the Welch–Satterthwaite "
    "degrees of freedom (rounded down). Welch, because the hosts ran at the same time but their "
    "repetitions are not matched in pairs and need not spread alike; logarithms, because a "
    "ratio's uncertainty is a factor. 'yes' when the interval leaves out 1 (p from the same t)"
)


@dataclass(frozen=True)
class Ratio:
    """One side's median over the other's, with its interval and verdict (None: no interval,
    ``reason`` says why)."""

    ratio: float
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    degrees_of_freedom: int | None = None
    significant: bool | None = None
    reason: str | None = None

    def to_json(self) -> dict:
        return dict(self.__dict__)


def median_ratio(base, other, confidence: float = 0.95) -> Ratio:
    """median(other) / median(base), both positive rates, with Welch's interval on ln(rate)."""
    base, other = [float(v) for v in base], [float(v) for v in other]
    if not base or not other or min(base + other) <= 0:
        raise ValueError("each side needs at least one positive value")
    ratio = statistics.median(other) / statistics.median(base)
    if len(base) < 2 or len(other) < 2:
        return Ratio(ratio, reason="an interval needs 2 repetitions on each side")
    logs = [[math.log(v) for v in side] for side in (base, other)]
    parts = [statistics.variance(side) / len(side) for side in logs]
    se = math.sqrt(sum(parts))
    if se == 0:
        return Ratio(ratio, reason="every repetition gave the same rate: no spread to go by")
    welch = sum(parts) ** 2 / sum(part**2 / (len(side) - 1) for part, side in zip(parts, logs))
    return ratio_interval(ratio, se, max(1, math.floor(welch)), confidence)


def ratio_interval(ratio: float, se: float, df: int, confidence: float) -> Ratio:
    """``ratio`` ×/÷ exp(t·se), t Student's at ``df``: its interval, p and verdict (the
    verdict is exactly whether the interval leaves out 1)."""
    t = student_t_quantile(confidence, df)
    p_value = 1.0 - two_sided_t_probability(abs(math.log(ratio)) / se, df)
    return Ratio(
        ratio=ratio,
        ci_low=ratio * math.exp(-t * se),
        ci_high=ratio * math.exp(t * se),
        p_value=min(1.0, max(0.0, p_value)),
        degrees_of_freedom=df,
        significant=p_value < 1.0 - confidence,
    )


# How paired_ratio's interval and verdict are made, in the report's words.
PAIRED_RATIO_METHOD = (
    "repetition r of the profile is paired with repetition r of the reference (the same round "
    "of the run, measured minutes apart), and each pair gives a ratio of rates; the ratio shown "
    "is the geometric mean of those ratios, exp(mean of ln ratio), with a 95% interval "
    "exp(mean ± t·s/√n), s the standard deviation of the ln ratios over the n pairs and t "
    "Student's at n - 1 degrees of freedom. Paired, because a round's drift of the machine "
    "falls on both sides of its pair and cancels; the mean of the logarithms rather than the "
    "median of the ratios, because the median's distribution-free interval needs 6 pairs and "
    "with 10 is only the 2nd to the 9th ratio, while a profile is measured in few rounds; "
    "logarithms, because a ratio's uncertainty is a factor. 'yes' when the interval leaves out "
    "1 (p from the same t); an interval needs 2 pairs"
)
MIN_PAIRS = 2


def paired_ratio(pairs, confidence: float = 0.95) -> Ratio:
    """exp(mean ln(other / base)) over ``pairs`` of (base, other) positive rates, with
    Student's t interval on the mean of the log ratios (n - 1 degrees of freedom)."""
    pairs = [(float(base), float(other)) for base, other in pairs]
    if not pairs or min(min(pair) for pair in pairs) <= 0:
        raise ValueError("a paired ratio needs at least one pair of positive rates")
    logs = [math.log(other / base) for base, other in pairs]
    ratio = math.exp(statistics.fmean(logs))
    if len(logs) < MIN_PAIRS:
        return Ratio(ratio, reason=f"an interval needs {MIN_PAIRS} pairs; there is {len(logs)}")
    se = statistics.stdev(logs) / math.sqrt(len(logs))
    if se == 0:
        return Ratio(ratio, reason="every pair gave the same ratio: no spread to go by")
    return ratio_interval(ratio, se, len(logs) - 1, confidence)

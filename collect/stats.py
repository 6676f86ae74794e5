"""Summary statistics over repetitions of one measurement."""

from __future__ import annotations

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

"""Shares of native redis, paired: each repetition of a cell against redis measured near it.

The reference is native redis (implementation ``redis``, interpreter ``native``) on the same
server host, under the same tuning profile and workload, for the same redis-benchmark test: a
profile's redis cells are its own reference, so a share says how a server does against redis
on hosts tuned alike (collect/profiles.py compares the profiles). Each ok sample of a
cell gives one *paired share*: its rate over the reference's rate at the moment the sample
was measured, read off the reference samples just before and just after it (linear
interpolation in time between the middles of their measured windows; before the first or
after the last reference sample, the nearest one). A sample whose load hosts recorded no
times falls back to the reference sample of its own repetition (the same interleaved round).
A failed sample makes no pair, and a failed reference sample is not a point to read from.
Native redis's own samples pair with themselves (exactly 1.0 each), so its share is 1.0 with
its ok repetitions as pairs and, like any cell's, an interval (1.0 to 1.0) only from 6 pairs.

Why time-adjacent and not the same round: measured on the committed lab runs
(tests/collect/runs; quick-a and quick-b have one repetition, so no spread), as the standard
deviation of the log paired shares of each cell with at least 3 pairs:

=========== ===== ========================== ========================
run         cells median SD, same round    median SD, time-adjacent
=========== ===== ========================== ========================
default     20    0.0830                     0.0692
seed        3     0.1678                     0.0934
seed-timed  3     0.1417                     0.1530
instrument  2     0.0563                     0.0502
adaptive    1     0.1094                     0.0944
=========== ===== ========================== ========================

Time-adjacent is the tighter in 21 of those 29 cells (the median cell's SD is 0.93 times
the same round's); the instrument run's 95% intervals are ±7.4% against ±10.4% (median
relative half-width). Interpolating between two reference samples averages out part of
the reference's own noise, which a single partner carries whole. Neither is tighter than the
spread of a cell's own rates on the quiet runs (default: median SD 0.0637), since a pair adds
the reference's noise; pairing pays where the machine drifts under the run (seed-timed: 0.2810
for the rates alone). tests/collect/test_pairing.py recomputes these numbers.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_right
from dataclasses import dataclass

from collect.model import OK, Sample
from collect.stats import median_confidence_interval

REFERENCE = ("redis", "native")
# How a share is made, in the report's words.
METHOD = (
    "Each repetition of a cell is paired with native redis on the same server host, workload "
    "and test: its rate over redis's rate at that moment, read off the redis repetitions just "
    "before and just after it (linear interpolation in time; the nearest one before the first "
    "or after the last). A cell's share of redis is the median of its paired shares, with a "
    "distribution-free 95% confidence interval from order statistics (none exists with fewer "
    "than 6 pairs)."
)


def is_reference(implementation: str, interpreter: str) -> bool:
    return (implementation, interpreter) == REFERENCE


def cell_key(sample: Sample, test: str) -> tuple:
    """(server host, profile, implementation, interpreter, workload, test): one cell over its
    repetitions."""
    return (
        sample.server_host or "",
        sample.profile,
        sample.implementation,
        sample.interpreter,
        sample.workload,
        test,
    )


def summary_key(cell: dict) -> tuple:
    """A cell summary's (collect/aggregate.py) cell_key."""
    return (
        cell["server_host"] or "",
        cell["profile"],
        cell["implementation"],
        cell["interpreter"],
        cell["workload"],
        cell["test"],
    )


def reference_key(host, profile: str, workload: str, test: str) -> tuple:
    """Whose native redis a cell is paired with: the same host, profile, workload and test."""
    return (host or "", profile, workload, test)


def measured_at(sample: Sample) -> float | None:
    """The middle of the sample's measured window over its load hosts (seconds, epoch)."""
    runs = [r for r in sample.load_hosts.values() if r.started is not None and r.ended is not None]
    if not runs:
        return None
    middle = (min(run.started for run in runs) + max(run.ended for run in runs)) / 2
    return middle if math.isfinite(middle) else None  # absurd times overflow: none then


@dataclass(frozen=True)
class Point:
    """One ok reference sample's rate for one test, and when it was measured."""

    at: float | None
    rate: float
    repetition: int


def reference_points(samples: list[Sample]) -> dict[tuple, list[Point]]:
    """reference_key -> the reference's ok samples, in time order."""
    points: dict[tuple, list[Point]] = {}
    for sample in samples:
        if sample.status != OK or not is_reference(sample.implementation, sample.interpreter):
            continue
        for test, rate in sample.rps.items():
            key = reference_key(sample.server_host, sample.profile, sample.workload, test)
            points.setdefault(key, []).append(Point(measured_at(sample), rate, sample.repetition))
    for found in points.values():
        found.sort(key=lambda p: (p.at is None, p.at or 0.0, p.repetition))
    return points


def rate_at(points: list[Point], at: float) -> float | None:
    """The reference's rate at time ``at``: interpolated between its neighbours in time."""
    timed = [p for p in points if p.at is not None]
    if not timed:
        return None
    index = bisect_right([p.at for p in timed], at)
    if index == 0:
        return timed[0].rate
    if index == len(timed):
        return timed[-1].rate
    before, after = timed[index - 1], timed[index]
    if after.at == before.at:
        return (before.rate + after.rate) / 2
    weight = (at - before.at) / (after.at - before.at)
    rate = before.rate + weight * (after.rate - before.rate)
    return rate if math.isfinite(rate) else None


def same_round_rate(points: list[Point], repetition: int) -> float | None:
    found = [p.rate for p in points if p.repetition == repetition]
    return found[0] if found else None


def reference_rate(points: list[Point], sample: Sample) -> float | None:
    at = measured_at(sample)
    rate = rate_at(points, at) if at is not None else None
    return rate if rate is not None else same_round_rate(points, sample.repetition)


def paired_share(sample: Sample, test: str, points: dict[tuple, list[Point]]) -> float | None:
    """One ok sample's rate for ``test`` over the reference's at its time (None: no pair)."""
    if is_reference(sample.implementation, sample.interpreter):
        return 1.0
    found = points.get(reference_key(sample.server_host, sample.profile, sample.workload, test), [])
    reference = reference_rate(found, sample)
    if not reference:
        return None
    share = sample.rps[test] / reference
    # Rates of absurd size (a damaged run) overflow or underflow: no pair rather than inf or 0.
    return share if math.isfinite(share) and share > 0 else None


def paired_shares(samples: list[Sample]) -> dict[tuple, list[float]]:
    """cell key -> its paired shares (fractions, 1.0 = redis), one per ok repetition that has
    a reference to pair with, in the order of the samples. The reference's own samples pair
    with themselves: exactly 1.0 each."""
    points = reference_points(samples)
    shares: dict[tuple, list[float]] = {}
    for sample in samples:
        if sample.status != OK:
            continue
        for test in sample.rps:
            share = paired_share(sample, test, points)
            if share is not None:
                shares.setdefault(cell_key(sample, test), []).append(share)
    return shares


def share_summary(shares: list[float]) -> dict | None:
    """A cell's share of redis: the median of its paired shares, with a distribution-free 95%
    confidence interval from order statistics (None with fewer than 6 pairs: none exists)."""
    if not shares:
        return None
    interval = median_confidence_interval(shares)
    return {
        "median": statistics.median(shares),
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "pairs": len(shares),
    }

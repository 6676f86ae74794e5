"""Paired shares of native redis: the interpolation, the pairs, the interval, and the
measurement on the committed lab runs that chose time-adjacent pairing over the same round."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import pytest

from collect import model
from collect.model import Cell, LoadHostRun, Sample
from collect.pairing import (
    Point,
    cell_key,
    is_reference,
    paired_shares,
    rate_at,
    reference_points,
    share_summary,
)
from collect.rundir import load_run

RUNS = Path(__file__).parent / "runs"


def sample(implementation, repetition, rate, window=None, status="ok", interpreter=None):
    """A sample of workload get measured over ``window`` (started, ended) at ``rate``."""
    interpreter = interpreter or ("native" if implementation == "redis" else "cpython3.11")
    started, ended = window or (None, None)
    failed = status == "failed"
    return Sample(
        cell=Cell(implementation, interpreter, "get", repetition),
        status=status,
        failure="timeout" if failed else None,
        server_host="server1",
        load_hosts={"load1": LoadHostRun(started=started, ended=ended)},
        tests={} if failed else {"GET": model.TestResult(rps=rate, hosts={"load1": {"rps": rate}})},
    )


def test_the_reference_rate_is_interpolated_between_its_neighbours_in_time():
    points = [Point(10.0, 100.0, 1), Point(20.0, 200.0, 2), Point(40.0, 100.0, 3)]
    assert rate_at(points, 15.0) == pytest.approx(150.0)
    assert rate_at(points, 30.0) == pytest.approx(150.0)
    assert rate_at(points, 20.0) == pytest.approx(200.0)
    # Before the first and after the last: the nearest one.
    assert rate_at(points, 0.0) == 100.0 and rate_at(points, 99.0) == 100.0
    assert rate_at([Point(None, 5.0, 1)], 3.0) is None


def test_shares_pair_each_repetition_with_redis_around_it():
    samples = [
        sample("redis", 1, 100.0, (9.0, 11.0)),  # middle 10
        sample("asyncio", 1, 60.0, (14.0, 16.0)),  # middle 15: redis 150 there
        sample("redis", 2, 200.0, (19.0, 21.0)),  # middle 20
        sample("asyncio", 2, 90.0, (24.0, 26.0)),  # after the last redis: 200
    ]
    shares = paired_shares(samples)
    assert shares[cell_key(samples[1], "GET")] == pytest.approx([0.4, 0.45])
    assert shares[cell_key(samples[0], "GET")] == [1.0, 1.0]  # redis pairs with itself


def test_failed_samples_make_no_pair_and_are_no_reference():
    samples = [
        sample("redis", 1, 100.0, (9.0, 11.0)),
        sample("redis", 2, 0.0, (19.0, 21.0), status="failed"),
        sample("asyncio", 1, 50.0, (19.0, 21.0)),
        sample("asyncio", 2, 0.0, (24.0, 26.0), status="failed"),
        sample("redis", 3, 300.0, (29.0, 31.0)),
    ]
    shares = paired_shares(samples)
    # The failed redis at 20 is skipped: 100 -> 300 between 10 and 30 gives 200 at 20.
    assert shares[cell_key(samples[2], "GET")] == pytest.approx([0.25])
    assert [p.rate for p in reference_points(samples)[("server1", "baseline", "get", "GET")]] == [
        100,
        300,
    ]


def test_samples_without_times_pair_with_redis_of_their_own_round():
    samples = [
        sample("redis", 1, 100.0),
        sample("redis", 2, 200.0),
        sample("asyncio", 2, 50.0),
        sample("asyncio", 3, 50.0),  # no redis in round 3, no time: no pair
    ]
    assert paired_shares(samples)[cell_key(samples[2], "GET")] == [0.25]


def test_absurd_times_and_rates_make_no_pair_rather_than_inf():
    samples = [
        sample("redis", 1, 1e-300, (1e308, 1e308)),  # its middle overflows: no time
        sample("redis", 2, 1e-300, (-1e308, -1e308)),
        sample("asyncio", 1, 1e308, (5.0, 6.0)),  # 1e308 / 1e-300 overflows
        sample("asyncio", 2, 1e-300, (5.0, 6.0)),
    ]
    assert [p.at for p in reference_points(samples)[("server1", "baseline", "get", "GET")]] == [
        None,
        None,
    ]
    shares = paired_shares(samples)
    # Without times both fall back to their round; the first overflows, the second is 1.0.
    assert shares[cell_key(samples[2], "GET")] == [1.0]
    assert share_summary(shares[cell_key(samples[2], "GET")])["median"] == 1.0


def test_no_native_redis_no_share():
    samples = [
        sample("asyncio", 1, 50.0, (1.0, 2.0)),
        sample("redis", 1, 60.0, (3.0, 4.0), interpreter="by-hand"),
    ]
    shares = paired_shares(samples)
    assert all(key[2:4] != ("asyncio", "cpython3.11") for key in shares)
    # redis@by-hand is not the reference: it is paired like any cell, here with nothing.
    assert not is_reference("redis", "by-hand") and is_reference("redis", "native")
    assert share_summary([]) is None


def test_share_summary_is_the_median_with_an_order_statistics_interval():
    assert share_summary([0.9, 1.1, 1.0, 0.95, 1.05]) == {
        "median": 1.0,
        "ci_low": None,  # 5 pairs: [min, max] covers the median with 93.75% only
        "ci_high": None,
        "pairs": 5,
    }
    six = share_summary([0.9, 1.1, 1.0, 0.95, 1.05, 0.97])
    # With 6 pairs [min, max] covers it with 1 - 2/64 = 96.9%: the interval is min to max.
    assert (six["ci_low"], six["median"], six["ci_high"], six["pairs"]) == (0.9, 0.985, 1.1, 6)


# The measurement behind the choice of pairing (collect/pairing.py's docstring), redone.


def same_round_shares(samples):
    """Each repetition against the redis sample of its own round (the method not chosen)."""
    redis = {
        (s.server_host, s.workload, s.repetition): s.rps
        for s in samples
        if s.status == "ok" and is_reference(s.implementation, s.interpreter)
    }
    shares = {}
    for s in samples:
        if s.status != "ok" or is_reference(s.implementation, s.interpreter):
            continue
        for test, rate in s.rps.items():
            partner = redis.get((s.server_host, s.workload, s.repetition), {}).get(test)
            if partner:
                shares.setdefault(cell_key(s, test), []).append(rate / partner)
    return shares


def log_spreads(shares, keys):
    return [statistics.stdev(math.log(x) for x in shares[key]) for key in keys]


MEASURED = {  # run: (cells, median SD same round, median SD time-adjacent)
    "default": (20, 0.0830, 0.0692),
    "seed": (3, 0.1678, 0.0934),
    "seed-timed": (3, 0.1417, 0.1530),
    "instrument": (2, 0.0563, 0.0502),
    "adaptive": (1, 0.1094, 0.0944),
}


def test_time_adjacent_pairing_is_the_tighter_on_the_lab_runs():
    tighter = total = 0
    for name, (cells, same_round_sd, adjacent_sd) in MEASURED.items():
        samples = load_run(RUNS / name).samples
        rounds, adjacent = same_round_shares(samples), paired_shares(samples)
        keys = [key for key, values in rounds.items() if len(values) >= 3]
        assert len(keys) == cells, name
        by_round, by_time = log_spreads(rounds, keys), log_spreads(adjacent, keys)
        assert statistics.median(by_round) == pytest.approx(same_round_sd, abs=5e-5), name
        assert statistics.median(by_time) == pytest.approx(adjacent_sd, abs=5e-5), name
        tighter += sum(t < r for t, r in zip(by_time, by_round))
        total += len(keys)
    assert (tighter, total) == (21, 29)

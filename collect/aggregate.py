"""From samples to cells: the statistics and flags of every measured combination.

A cell here is one (server host, tuning profile, implementation, interpreter, workload,
redis-benchmark test) over its repetitions. Only ``ok`` samples count towards its numbers;
failed ones are counted and named.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from collect import interference
from collect.model import OK, SKIPPED, Sample
from collect.pairing import (
    cell_key,
    is_reference,
    paired_shares,
    reference_key,
    share_summary,
)
from collect.stats import summarize

# The test name of a workload whose every sample failed before printing a table.
NO_TEST = "no test measured"
# Latency percentiles a cell summarises: each the median over its repetitions of the worst
# load host's value.
LATENCIES = ("p50_latency_ms", "p95_latency_ms", "p99_latency_ms", "max_latency_ms")


@dataclass(frozen=True)
class Thresholds:
    # Coefficient of variation over repetitions above which a cell is UNSTABLE.
    unstable_cv: float = 0.10
    # The client's share of its CPU budget (its process) at or above which the load
    # generator, not the server, sets the number: CLIENT-BOUND.
    client_cpu_share: float = 0.90
    # The load host's CPUs busy (the client plus the kernel's network work) at or above this.
    load_cpu_busy: float = 0.95
    # Several load hosts: the share of their combined span when all of them ran, below which
    # their summed rate is not what the server did at once: NOT-CONCURRENT.
    load_overlap: float = 0.90


def median_or_none(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def worst_host(sample: Sample, test: str, metric: str):
    """The highest value of a latency metric over the sample's load hosts."""
    values = [m.get(metric) for m in sample.tests[test].hosts.values()]
    values = [value for value in values if value is not None]
    return max(values) if values else None


def requests_per_cpu_second(sample: Sample):
    """Requests the server answered per CPU-second it used in the measured run.

    The requests are every test's, over every load host; the server's CPU time covers the
    whole measured run, so the ratio is per sample, not per test.
    """
    cpu = sample.server.cpu_s if sample.server else None
    if not cpu or cpu <= 0:
        return None
    requests = 0
    for test in sample.tests.values():
        for host, metrics in test.hosts.items():
            elapsed = sample.load_hosts[host].elapsed_s
            argv = sample.load_hosts[host].argv or []
            count = argv[argv.index("-n") + 1] if "-n" in argv[:-1] else None
            if count is not None and str(count).isdigit():
                requests += int(count)
            elif elapsed and metrics.get("rps"):
                requests += metrics["rps"] * elapsed
    return requests / cpu if requests else None


def client_bound(sample: Sample, thresholds: Thresholds) -> bool:
    for run in sample.load_hosts.values():
        share, busy = run.client_cpu_share, run.load_cpu_busy
        if share is not None and share >= thresholds.client_cpu_share:
            return True
        if busy is not None and busy >= thresholds.load_cpu_busy:
            return True
    return False


def cells(
    samples: list[Sample], thresholds: Thresholds = Thresholds(), shares: dict | None = None
) -> list[dict]:
    """One summary per cell, in the order the samples come (sorted by the caller).

    ``shares``: every cell's paired shares of redis (pairing.paired_shares), if already made.
    """
    grouped: dict[tuple, dict] = {}
    for sample in samples:
        if sample.status == SKIPPED:
            continue
        names = list(sample.rps) if sample.status == OK else (list(sample.tests) or [None])
        for test in names:
            group = grouped.setdefault(cell_key(sample, test), {"ok": [], "failed": []})
            group["ok" if sample.status == OK else "failed"].append(sample)
    # A failed sample with no table belongs to every test its workload measured elsewhere
    # (a crash before redis-benchmark printed anything still counts against those tests).
    # Keys are (host, profile, implementation, interpreter, workload, test): the same host,
    # profile and workload are k[0], k[1] and k[4].
    for key in [k for k in grouped if k[-1] is None]:
        group = grouped.pop(key)
        tests = sorted(
            {k[-1] for k in grouped if (k[0], k[1], k[4]) == (key[0], key[1], key[4])} - {None}
        )
        for test in tests or [NO_TEST]:
            entry = grouped.setdefault((*key[:-1], test), {"ok": [], "failed": []})
            entry["failed"] += group["failed"]
    shares = paired_shares(samples) if shares is None else shares
    summaries = []
    for key, group in grouped.items():
        cell = summarize_cell(key, group["ok"], group["failed"], thresholds)
        cell["share_of_redis"] = share_summary(shares.get(key, []))
        summaries.append(cell)
    mark_client_bound_reference(summaries)
    return summaries


def summarize_cell(key, ok, failed, thresholds: Thresholds) -> dict:
    server_host, profile, implementation, interpreter, workload, test = key
    cell = {
        "server_host": server_host or None,
        "profile": profile,
        "implementation": implementation,
        "interpreter": interpreter,
        "workload": workload,
        "test": test,
        "samples_ok": len(ok),
        "samples_failed": len(failed),
        "failures": sorted({sample.failure for sample in failed}),
        "rps": None,
        "share_of_redis": None,
        "redis_client_bound": None,
        **dict.fromkeys(LATENCIES),
        "requests_per_server_cpu_s": None,
        "client_cpu_share": None,
        "load_cpu_busy": None,
        "load_overlap": None,
        "interference": None,
        "flags": [],
    }
    restarted = any(s.server and s.server.restarted for s in ok + failed)
    if ok:
        rates = [sample.tests[test].rps for sample in ok]
        summary = summarize(rates)
        cell["rps"] = {
            "median": summary.median,
            "min": summary.minimum,
            "max": summary.maximum,
            "cv": summary.cv,
            "values": rates,
        }
        for metric in LATENCIES:
            cell[metric] = median_or_none(worst_host(s, test, metric) for s in ok)
        cell["requests_per_server_cpu_s"] = median_or_none(requests_per_cpu_second(s) for s in ok)
        cell["client_cpu_share"] = median_or_none(
            max((run.client_cpu_share or 0.0) for run in s.load_hosts.values()) for s in ok
        )
        cell["load_cpu_busy"] = median_or_none(
            max((run.load_cpu_busy or 0.0) for run in s.load_hosts.values())
            if any(run.load_cpu_busy is not None for run in s.load_hosts.values())
            else None
            for s in ok
        )
        overlaps = [s.load_overlap for s in ok if s.load_overlap is not None]
        cell["load_overlap"] = min(overlaps) if overlaps else None
        if overlaps and min(overlaps) < thresholds.load_overlap:
            cell["flags"].append("NOT-CONCURRENT")
        if len(ok) > 1 and summary.cv > thresholds.unstable_cv:
            cell["flags"].append("UNSTABLE")
        # Most of the repetitions, not one: a single busy moment should not relabel a cell.
        if sum(client_bound(s, thresholds) for s in ok) * 2 > len(ok):
            cell["flags"].append("CLIENT-BOUND")
        cell["interference"] = interference.summary(ok)
        cell["flags"] += interference.flags(ok)
    if restarted:
        cell["flags"].append("RESTARTED")
    if failed:
        cell["flags"].append("FAILED")
    return cell


def mark_client_bound_reference(summaries: list[dict]) -> None:
    """Whether the native redis each cell is a share of was CLIENT-BOUND (None: no redis).

    Then redis's rate is the client's limit, not redis's: a share of it is an upper bound,
    and a share above 1.0 does not mean the server beat redis.
    """

    def reference_of(c: dict) -> tuple:
        return reference_key(c["server_host"], c["profile"], c["workload"], c["test"])

    bound = {
        reference_of(c): "CLIENT-BOUND" in c["flags"]
        for c in summaries
        if is_reference(c["implementation"], c["interpreter"]) and c["rps"]
    }
    for cell in summaries:
        cell["redis_client_bound"] = bound.get(reference_of(cell))


def outside_measurement(samples: list[Sample]):
    """Seconds per cell spent outside the measured redis-benchmark run (median, min, max)."""
    timed = [sample.timing for sample in samples if sample.status != SKIPPED and sample.timing]
    if not timed:
        return None
    values = [timing.outside_s for timing in timed]
    cell_values = [timing.cell_s for timing in timed]
    return {
        "cells": len(values),
        "median_s": statistics.median(values),
        "min_s": min(values),
        "max_s": max(values),
        "total_s": sum(values),
        "cells_total_s": sum(cell_values),
    }

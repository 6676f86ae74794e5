"""The instrument checked against the bare client: wirebench's native redis cells next to
their by-hand twins (redis@by-hand: bare redis-benchmark from the same load host's shell,
same flags, same preparation, measured right after), from a run made with
``wirebench_by_hand: true`` (presets/instrument.yml, ``make check-instrument``).

Each repetition is a pair measured back to back, so the ratio of the pair cancels the
machine's drift; the verdict rests on the pairs' median ratio and its 95% confidence
interval (order statistics, distribution-free): within the tolerance when the whole interval
is, different when the interval excludes 1 and leaves the tolerance band, and otherwise
undecided at this number of pairs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from collect.model import OK
from collect.outputs import write_all
from collect.rundir import RunDirError, load_run
from collect.stats import median_confidence_interval

NATIVE, BY_HAND = "native", "by-hand"
TOLERANCE = 0.03


@dataclass(frozen=True)
class Check:
    server_host: str | None
    workload: str
    test: str
    wirebench: list[float]  # requests/s of each pair, in repetition order
    by_hand: list[float]
    wirebench_p99: list[float]
    by_hand_p99: list[float]

    @property
    def ratios(self) -> list[float]:
        return [ours / bare for ours, bare in zip(self.wirebench, self.by_hand)]

    def verdict(self, tolerance: float) -> str:
        interval = median_confidence_interval(self.ratios)
        if interval is None:
            return f"too few pairs for a 95% interval ({len(self.ratios)}; 6 needed)"
        low, high = interval
        if 1 - tolerance <= low and high <= 1 + tolerance:
            return f"within ±{tolerance:.0%}"
        if high < 1 - tolerance or low > 1 + tolerance:
            return f"DIFFERS by more than {tolerance:.0%}"
        return f"undecided at ±{tolerance:.0%}: more pairs needed"


def p99(sample, test: str) -> float | None:
    hosts = sample.tests[test].hosts
    values = [row.get("p99_latency_ms") for row in hosts.values() if row.get("p99_latency_ms")]
    return max(values) if values else None


def checks(run) -> list[Check]:
    """One check per server host, workload and test with at least one complete pair."""
    cells = {}
    for sample in run.samples:
        if sample.implementation == "redis" and sample.status == OK:
            key = (sample.server_host, sample.workload, sample.repetition)
            cells.setdefault(key, {})[sample.interpreter] = sample
    found: dict[tuple, dict] = {}
    for (host, workload, _rep), pair in sorted(cells.items(), key=lambda item: item[0][2]):
        if NATIVE not in pair or BY_HAND not in pair:
            continue
        ours, bare = pair[NATIVE], pair[BY_HAND]
        for test in sorted(set(ours.rps) & set(bare.rps)):
            entry = found.setdefault((host or "", workload, test), empty_lists())
            entry["wirebench"].append(ours.rps[test])
            entry["by_hand"].append(bare.rps[test])
            entry["wirebench_p99"].append(p99(ours, test))
            entry["by_hand_p99"].append(p99(bare, test))
    return [
        Check(host or None, workload, test, **values)
        for (host, workload, test), values in sorted(found.items())
    ]


def empty_lists() -> dict:
    return {"wirebench": [], "by_hand": [], "wirebench_p99": [], "by_hand_p99": []}


def median_of(values) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def table(found: list[Check], tolerance: float) -> list[str]:
    lines = [
        "| server | workload | test | pairs | wirebench req/s | by hand req/s | ratio (95% CI) "
        "| p99 ms wirebench / by hand | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for check in found:
        interval = median_confidence_interval(check.ratios)
        ci = f" ({interval[0]:.3f}–{interval[1]:.3f})" if interval else ""
        ours_p99, bare_p99 = median_of(check.wirebench_p99), median_of(check.by_hand_p99)
        latency = f"{ours_p99:.3f} / {bare_p99:.3f}" if ours_p99 is not None and bare_p99 else "–"
        ratio = statistics.median(check.ratios)
        lines.append(
            f"| {check.server_host or '–'} | {check.workload} | {check.test} "
            f"| {len(check.ratios)} | {statistics.median(check.wirebench):,.0f} "
            f"| {statistics.median(check.by_hand):,.0f} | {ratio:.3f}{ci} | {latency} "
            f"| {check.verdict(tolerance)} |"
        )
    return lines


def instrument(path, tolerance: float = TOLERANCE) -> str:
    """Write instrument.md into the run folder and return its text."""
    run = load_run(path)
    found = checks(run)
    if not found:
        raise RunDirError(
            f"{path}: no pair of redis@native and redis@by-hand cells measured ok: run with "
            "-e wirebench_by_hand=true (presets/instrument.yml)"
        )
    text = "\n".join(
        [
            f"# The instrument against the bare client: {run.meta.get('run_id', Path(path).name)}",
            "",
            "Native redis measured by wirebench and, right after each, by bare redis-benchmark "
            "from the same load host's shell with the same flags and the same preparation. "
            "ratio = wirebench / by hand, per pair; its median and 95% confidence interval "
            f"(order statistics); tolerance ±{tolerance:.0%}.",
            "",
            *table(found, tolerance),
            "",
        ]
    )
    write_all(Path(path), {"instrument.md": text})
    return text

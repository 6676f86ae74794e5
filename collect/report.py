"""``collect report``: a run folder's raw artefacts into run.json, summary.csv, report.md and
plots, and the summary table on the terminal."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from importlib import metadata
from pathlib import Path

from collect import (
    aggregate,
    conditions,
    hosts,
    interference,
    network,
    outputs,
    pairing,
    profiles,
    resolution,
    snapshots,
    tables,
)
from collect.model import FAILED, FAILURE_KINDS, SKIPPED
from collect.rundir import FORMAT, Run, load_run

SUMMARY_FIELDS = [
    "server_host",
    "profile",
    "implementation",
    "interpreter",
    "workload",
    "test",
    "samples_ok",
    "samples_failed",
    "median_rps",
    "min_rps",
    "max_rps",
    "cv",
    "share_of_redis",
    "share_ci_low",
    "share_ci_high",
    "share_pairs",
    "redis_client_bound",
    *aggregate.LATENCIES,
    "requests_per_server_cpu_s",
    "client_cpu_share",
    "load_cpu_busy",
    "load_overlap",
    *(f"interference_{name}" for name in interference.SUMMARY_FIELDS),
    "flags",
    "gets",
    # Which VM the server host is, and what the rate costs (collect/hosts.py).
    "vm_provider",
    "vm_type",
    "vm_zone",
    "vcpus",
    "price_per_hour",
    "rps_per_vcpu",
    "rps_per_dollar_hour",
    # Several server hosts: this host's median over the base host's, with its interval.
    "base_host",
    "ratio_to_base",
    "ratio_ci_low",
    "ratio_ci_high",
    "ratio_p_value",
    "ratio_significant",
    # Several tuning profiles: this profile's rates over the reference profile's, paired by
    # repetition (collect/profiles.py).
    "profile_reference",
    "profile_ratio",
    "profile_ratio_ci_low",
    "profile_ratio_ci_high",
    "profile_ratio_pairs",
    "profile_ratio_significant",
]


def wirebench_version() -> str:
    try:
        return metadata.version("wirebench")
    except metadata.PackageNotFoundError:
        return "unknown"


class Collected:
    """A run, read and summarised: everything the outputs are made from."""

    def __init__(self, run: Run, thresholds: aggregate.Thresholds):
        self.run = run
        self.thresholds = thresholds
        self.shares = pairing.paired_shares(run.samples)
        self.cells = aggregate.cells(run.samples, thresholds, self.shares)
        self.workloads = conditions.workload_lines(run.workloads, run.samples)
        matrix = run.meta.get("matrix") or {}
        self.implementations = list(matrix.get("implementations") or [])
        self.interpreters = [i.get("name") for i in matrix.get("interpreters") or []]
        self.outside = aggregate.outside_measurement(run.samples)
        self.hosts = hosts.comparison(
            self.cells, run.meta, self.implementations, self.interpreters, list(self.workloads)
        )
        self.profile_names = profiles.names(run.meta, run.samples)
        self.resolutions = [
            resolution.resolution(host, workload, test, cells, self.shares, profile)
            for host, profile, workload, test, cells in self.sections()
        ]
        self.twin_checks = [
            check
            for host, profile, workload, test, cells in self.sections()
            for check in resolution.twin_checks(host, workload, test, cells, profile)
        ]
        self.profiles = (
            profiles.comparison(
                run.samples, self.cells, self.profile_names, run.tuning, self.order_of_cells()
            )
            if self.several_profiles
            else None
        )

    def order_of_cells(self) -> dict[str, list[str]]:
        """The matrix's order of implementations, interpreters and workloads."""
        return {
            "implementations": self.implementations,
            "interpreters": ["native", *self.interpreters],
            "workloads": list(self.workloads),
        }

    @property
    def several_profiles(self) -> bool:
        return len(self.profile_names) > 1

    def sections(self):
        """(server host, profile, workload, test, its cells) in the order the matrix lists
        them: the tables never mix tuning profiles (nor hosts)."""
        hosts = sorted({c["server_host"] or "" for c in self.cells})
        tests_seen: dict[str, list[str]] = {}
        for cell in self.cells:
            tests = tests_seen.setdefault(cell["workload"], [])
            if cell["test"] not in tests:
                tests.append(cell["test"])
        for host in hosts:
            for profile in self.profile_names:
                for workload in tables.ordered(tests_seen, list(self.workloads)):
                    for test in tests_seen[workload]:
                        chosen = [
                            c
                            for c in self.cells
                            if (c["server_host"] or "") == host
                            and c["profile"] == profile
                            and c["workload"] == workload
                            and c["test"] == test
                        ]
                        if chosen:
                            yield host or None, profile, workload, test, chosen

    @property
    def several_hosts(self) -> bool:
        return len(self.hosts["servers"]) > 1

    def host_label(self, host) -> str | None:
        """A server host's name with its VM ("server1 (aws m7i.large, eu-west-1b)")."""
        found = self.hosts["servers"].get(host) if host else None
        return found["label"] if found else host

    def host_sections(self):
        """Every (workload, test) of the run, once, in the sections' order."""
        seen = {}
        for _host, _profile, workload, test, _cells in self.sections():
            seen[(workload, test)] = True
        return list(seen)

    def counts(self) -> dict[str, int]:
        counts = {"ok": 0, "failed": 0, "skipped": 0}
        for sample in self.run.samples:
            counts[sample.status] += 1
        return counts

    def gets(self, workload: str) -> str:
        return self.workloads.get(workload, {}).get("gets", "")


def run_json(collected: Collected) -> dict:
    """The run as one versioned document. Deterministic: no collection time, sorted keys."""
    return {
        "format": FORMAT,
        "collected_with": {
            "wirebench_version": wirebench_version(),
            "thresholds": asdict(collected.thresholds),
        },
        "run": collected.run.meta,
        "workloads": collected.workloads,
        "problems": collected.run.problems,
        "samples": [sample.to_json() for sample in collected.run.samples],
        "cells": collected.cells,
        "resolution": [item.to_json() for item in collected.resolutions],
        "identical_cells": [check.to_json() for check in collected.twin_checks],
        "outside_measurement": collected.outside,
        "hosts": collected.hosts,
        "network": [path.to_json() for path in collected.run.network],
        "profiles": collected.profiles,
        "snapshots": snapshots.block(collected.run.snapshots),
    }


def dump_json(document) -> str:
    # allow_nan=False: a NaN that slipped through is a bug to see, not invalid JSON to ship.
    return json.dumps(document, indent=1, sort_keys=True, allow_nan=False) + "\n"


def summary_csv(collected: Collected) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    servers = collected.hosts["servers"]
    for host, _profile, workload, _test, cells in collected.sections():
        server = servers.get(host or collected.hosts["base"]) or {}
        vm = server.get("vm") or {}
        for cell in cells:
            stats = cell["rps"] or {}
            share = cell["share_of_redis"] or {}
            entry = hosts.entry_for(collected.hosts, cell) or {}
            ratio = entry.get("ratio_to_base") or {}
            tuned = profiles.ratio_for(collected.profiles, cell) or {}
            writer.writerow(
                {
                    **{key: cell.get(key) for key in SUMMARY_FIELDS if key in cell},
                    "median_rps": stats.get("median"),
                    "min_rps": stats.get("min"),
                    "max_rps": stats.get("max"),
                    "cv": stats.get("cv"),
                    "share_of_redis": share.get("median"),
                    "share_ci_low": share.get("ci_low"),
                    "share_ci_high": share.get("ci_high"),
                    "share_pairs": share.get("pairs"),
                    **{
                        f"interference_{name}": (cell["interference"] or {}).get(name)
                        for name in interference.SUMMARY_FIELDS
                    },
                    "flags": " ".join(cell["flags"]),
                    "gets": collected.gets(workload),
                    "vm_provider": vm.get("provider"),
                    "vm_type": vm.get("type"),
                    "vm_zone": vm.get("zone"),
                    "vcpus": server.get("vcpus"),
                    "price_per_hour": server.get("price_per_hour"),
                    "rps_per_vcpu": entry.get("rps_per_vcpu"),
                    "rps_per_dollar_hour": entry.get("rps_per_dollar_hour"),
                    "base_host": collected.hosts["base"] if collected.several_hosts else None,
                    "ratio_to_base": ratio.get("ratio"),
                    "ratio_ci_low": ratio.get("ci_low"),
                    "ratio_ci_high": ratio.get("ci_high"),
                    "ratio_p_value": ratio.get("p_value"),
                    "ratio_significant": ratio.get("significant"),
                    "profile_reference": (collected.profiles or {}).get("reference"),
                    "profile_ratio": tuned.get("ratio"),
                    "profile_ratio_ci_low": tuned.get("ci_low"),
                    "profile_ratio_ci_high": tuned.get("ci_high"),
                    "profile_ratio_pairs": tuned.get("pairs"),
                    "profile_ratio_significant": tuned.get("significant"),
                }
            )
    return out.getvalue()


def section_title(host, workload, test, profile=None) -> str:
    """ "get: GET on server1", with " under <profile>" when the run has several profiles."""
    return (
        f"{workload}: {test}"
        + (f" under {profile}" if profile else "")
        + (f" on {host}" if host else "")
    )


def workload_note(collected: Collected, host, workload: str) -> str:
    described = collected.workloads.get(workload, {})
    loads = sorted(
        {
            name
            for sample in collected.run.samples
            if sample.server_host == host and sample.workload == workload
            for name in sample.load_hosts
        }
    )
    source = (
        f"from {loads[0]}"
        if len(loads) == 1
        else f"from {', '.join(loads)} at once"
        if loads
        else "from no load host"
    )
    return f"`{described.get('flags', 'unknown flags')}` {source}; {described.get('gets', '')}"


def not_measured_lines(collected: Collected) -> list[str]:
    lines = []
    for sample in collected.run.samples:
        if sample.status == FAILED:
            lines.append(
                f"- FAILED `{sample.id}`"
                + (f" on {sample.server_host}" if sample.server_host else "")
                + f": {sample.failure}: {sample.reason}"
            )
            if sample.journal_tail:
                # The unit's own words on why it would not start.
                lines += ["", "  ```", *(f"  {line}" for line in sample.journal_tail), "  ```", ""]
    skipped: dict[tuple, list] = {}
    for sample in collected.run.samples:
        if sample.status == SKIPPED:
            key = (sample.implementation, sample.interpreter, sample.reason)
            which = f"{sample.cell.workload_part}#{sample.repetition}"  # with its profile
            skipped.setdefault(key, []).append(which)
    for (implementation, interpreter, reason), which in sorted(skipped.items()):
        lines.append(f"- skipped `{implementation}@{interpreter}` ({', '.join(which)}): {reason}")
    return lines


def tool_warnings(collected: Collected) -> list[str]:
    """Each distinct non-table line found in redis-benchmark's stdout, with where it came from."""
    seen: dict[str, list[str]] = {}
    for sample in collected.run.samples:
        for host, run in sample.load_hosts.items():
            for line in run.warnings:
                seen.setdefault(line, []).append(f"{sample.id} ({host})")
    return [
        f"- `{line}` in {len(where)} sample{'s' if len(where) > 1 else ''}: {', '.join(where[:5])}"
        + (" ..." if len(where) > 5 else "")
        for line, where in sorted(seen.items())
    ]


def legend(thresholds: aggregate.Thresholds) -> list[str]:
    return [
        "- Each grid cell: the median requests/s over the cell's ok repetitions, ±their "
        "coefficient of variation, (the cell's share of native redis, with its 95% confidence "
        "interval when it has one), then the cell's flags.",
        f"- Share of redis: {pairing.METHOD} The share's interval says where the cell's true "
        "share lies; requests/s are the absolute rates, as measured.",
        f"- `{tables.CLIENT_BOUND_SHARE}`: the cell's share is above 100% while native redis "
        "was CLIENT-BOUND. redis's rate was then the client's limit, not redis's: the server "
        "did at least what the client let redis do, and how it compares with redis beyond that "
        "this run cannot tell. Whenever redis is CLIENT-BOUND, a share of it is an upper bound.",
        f"- `UNSTABLE`: the coefficient of variation over repetitions is above "
        f"{100 * thresholds.unstable_cv:.0f}%; the median is less certain than it looks.",
        f"- `CLIENT-BOUND`: in most repetitions redis-benchmark used at least "
        f"{100 * thresholds.client_cpu_share:.0f}% of its CPU budget (its threads, capped by "
        f"the load host's CPUs) or the load host's CPUs were at least "
        f"{100 * thresholds.load_cpu_busy:.0f}% busy: the number measures the client, and the "
        "server may be faster than it shows.",
        f"- `NOT-CONCURRENT`: the load hosts' runs overlapped for less than "
        f"{100 * thresholds.load_overlap:.0f}% of their combined span in some repetition: their "
        "rates are summed, which overstates what the server answered at once.",
        *(f"- `{flag}`: {meaning}." for flag, meaning in interference.EXPLAINED.items()),
        "- steal, softirq: the largest share of a CPU the measurement used (the server's or "
        "redis-benchmark's) that a hypervisor gave to another guest (steal) or the kernel spent "
        "on network interrupts' deferred work (softirq), over the cell's repetitions and hosts: "
        "on a load host over its measured run, on the server host from its unit's start to its "
        "stop (nothing may reach the server host while the load host measures). Steal is not "
        "counted as load CPU busy. resent, lost: TCP segments retransmitted and NIC packets "
        "dropped or in error, summed over the repetitions and hosts of the pair.",
        "- `RESTARTED`: the server's MainPID or restart count changed during a repetition.",
        "- `FAILED`: at least one repetition failed (listed below); it is not in the numbers.",
        "- requests/server CPU-s: requests answered per CPU-second the server process used "
        "during the measured run (the server's INFO cpu, read by the load host just before "
        "and after its run; in older runs, systemd's accounting on the server host).",
        "- p50, p95, p99, max ms: redis-benchmark's latency percentiles and its largest "
        "latency, each the median over the cell's repetitions of the worst load host's value.",
        "- client CPU: redis-benchmark's CPU time over its budget (median over repetitions).",
        "- load CPU busy: how busy the load host's CPUs were during the measured run, from "
        "/proc/stat: the client, the kernel's network work, and anything else on those CPUs "
        "(on a shared machine such as the built-in lab, other tenants' work counts too).",
        "- A failed sample names its kind:",
        *(f"  - `{kind}`: {meaning}." for kind, meaning in FAILURE_KINDS.items()),
    ]


def markdown_report(collected: Collected, plots: list[str]) -> str:
    meta = collected.run.meta
    counts = collected.counts()
    parts = [
        f"# wirebench run {meta.get('run_id')}",
        "",
        f"Samples: {counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped.",
        "",
        "## Conditions",
        "",
        *(f"- {line}" for line in conditions.host_lines(meta)),
        *(f"- interpreter {line}" for line in conditions.interpreter_lines(meta)),
        *(f"- {line}" for line in conditions.run_lines(meta)),
        "",
        *network.section(collected.run.network),
        *snapshots.markdown_lines(collected.run.snapshots),
    ]
    several = collected.several_profiles
    for host, profile, workload, test, cells in collected.sections():
        header, rows = tables.grid(cells, collected.implementations, collected.interpreters)
        detail_header, detail = tables.detail_rows(
            cells, collected.implementations, collected.interpreters
        )
        title = section_title(collected.host_label(host), workload, test, several and profile)
        parts += [
            "",
            f"## {title}",
            "",
            workload_note(collected, host, workload),
            "",
            tables.markdown(header, rows),
            "",
            tables.markdown(detail_header, detail),
        ]
    if collected.several_hosts:
        parts += ["", "## Server hosts side by side", ""]
        for workload, test in collected.host_sections():
            header, rows = hosts.side_by_side(collected.hosts, workload, test)
            parts += [f"### {workload}: {test}", "", tables.markdown(header, rows), ""]
        parts += hosts.legend(collected.hosts)
    if collected.profiles:
        parts += ["", *profiles.markdown_lines(collected.profiles)]
    not_measured = not_measured_lines(collected)
    if not_measured:
        parts += ["", "## Failed and skipped samples", "", *not_measured]
    warnings = tool_warnings(collected)
    if warnings:
        parts += ["", "## Warnings redis-benchmark printed", "", *warnings]
    if collected.run.problems:
        problems = [f"- {problem}" for problem in collected.run.problems]
        parts += ["", "## Problems reading the run", "", *problems]
    if collected.outside:
        o = collected.outside
        parts += [
            "",
            "## Time outside the measured runs",
            "",
            f"Per cell, the run spent a median {o['median_s']:.1f} s (min {o['min_s']:.1f}, "
            f"max {o['max_s']:.1f}) outside the measured redis-benchmark run: starting the unit, "
            "verifying, preloading, warming up, reading counters, stopping, fetching. That is "
            f"{o['total_s']:.1f} s of the {o['cells_total_s']:.1f} s its {o['cells']} cells took.",
        ]
    parts += ["", "## How to read this", "", *legend(collected.thresholds)]
    if plots:
        parts += ["", "## Plots", ""]
        parts += [f"![{Path(name).stem}]({name})" for name in plots]
    parts += [
        "",
        *resolution.markdown_lines(collected.resolutions, collected.twin_checks),
    ]
    return "\n".join(parts) + "\n"


def terminal_report(collected: Collected, written: list[Path]) -> str:
    meta = collected.run.meta
    counts = collected.counts()
    lines = [
        f"wirebench run {meta.get('run_id')}: {counts['ok']} ok, {counts['failed']} failed, "
        f"{counts['skipped']} skipped",
        *conditions.host_lines(meta),
        *(f"interpreter {line}" for line in conditions.interpreter_lines(meta)),
        *network.terminal_lines(collected.run.network),
    ]
    for host, profile, workload, test, cells in collected.sections():
        header, rows = tables.grid(cells, collected.implementations, collected.interpreters)
        lines += [
            "",
            section_title(
                collected.host_label(host), workload, test, collected.several_profiles and profile
            ),
            workload_note(collected, host, workload).replace("`", ""),
            tables.plain(header, rows),
        ]
    if collected.several_hosts:
        for workload, test in collected.host_sections():
            header, rows = hosts.side_by_side(collected.hosts, workload, test, detail=False)
            lines += [
                "",
                f"{workload}: {test}, server hosts side by side",
                tables.plain(header, rows),
            ]
    if collected.profiles:
        lines += ["", *profiles.terminal_lines(collected.profiles)]
    if counts["failed"]:
        lines += ["", f"{counts['failed']} failed samples: see report.md"]
    lines += ["", "Resolution (see report.md):"]
    lines += [
        sentence.removeprefix("- ")
        for sentence in map(resolution.plain_sentence, collected.resolutions)
    ]
    lines += resolution.twin_summary(collected.twin_checks)
    lines += ["", "written: " + ", ".join(str(path) for path in written)]
    return "\n".join(lines)


def report(path, thresholds=None, with_plots=True) -> tuple[Collected, str]:
    """Collect the run in ``path``, write its outputs there; returns what to print."""
    thresholds = thresholds or aggregate.Thresholds()
    collected = Collected(load_run(path), thresholds)
    images: dict[str, bytes] = {}
    if with_plots:
        from collect import plots  # matplotlib is only needed when plots are asked for

        images = plots.report_plots(collected)
    written = outputs.write_all(
        collected.run.path,
        {
            **images,
            "run.json": dump_json(run_json(collected)),
            "summary.csv": summary_csv(collected),
            "report.md": markdown_report(collected, list(images)),
        },
    )
    return collected, terminal_report(collected, written)

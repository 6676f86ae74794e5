"""Tuning profiles side by side: what each profile did for the same cell, within one run.

A run of several profiles (wirebench_tuning_profiles) measures, in each round, one block of
cells per profile, the profiles' order rotating from round to round (plugins/filter/
wirebench.py's cells). For every server host, implementation, interpreter, workload and test:
each profile's median requests/s, its share of native redis *under that profile* (the paired
share the cell carries: a profile's redis cells are its own reference), and its ratio to the
reference profile, paired by repetition (collect/significance.py: ``paired_ratio``). The
reference is ``baseline`` (the hosts as found) when the run has it, else the first profile
listed. What each profile really set on each host comes with it (collect/tuning.py).
"""

from __future__ import annotations

from collect import tables, tuning
from collect.model import BASELINE, OK, Sample
from collect.significance import PAIRED_RATIO_METHOD, paired_ratio

HEADER = [
    "implementation",
    "profile",
    "requests/s",
    "share of redis under the profile (95% CI)",
    "ratio to {reference} (95% CI)",
    "pairs",
    "different?",
]


def names(meta: dict, samples: list[Sample]) -> list[str]:
    """The run's profiles: as run-meta.json lists them (matrix.tuning_profiles), then any
    other its samples have (baseline first); [baseline] for a run before profiles."""
    listed = list((meta.get("matrix") or {}).get("tuning_profiles") or [])
    found = {sample.profile for sample in samples}
    rest = sorted(found - set(listed), key=lambda name: (name != BASELINE, name))
    return list(dict.fromkeys(listed + rest)) or [BASELINE]


def reference_of(profiles: list[str]) -> str:
    return BASELINE if BASELINE in profiles else profiles[0]


def repetition_rates(samples: list[Sample]) -> dict[tuple, dict[int, float]]:
    """(host, profile, implementation, interpreter, workload, test) -> {repetition: rate} of
    the ok samples."""
    rates: dict[tuple, dict[int, float]] = {}
    for sample in samples:
        if sample.status != OK:
            continue
        for test, rate in sample.rps.items():
            key = (sample.server_host or "", sample.profile, sample.implementation,
                   sample.interpreter, sample.workload, test)  # fmt: skip
            rates.setdefault(key, {})[sample.repetition] = rate
    return rates


def ratio_to(reference: dict[int, float], other: dict[int, float]) -> dict | None:
    """The paired ratio of ``other`` to ``reference`` over the repetitions both have, with
    the number of pairs; None without a single pair."""
    pairs = [(reference[rep], other[rep]) for rep in sorted(set(reference) & set(other))]
    if not pairs:
        return None
    return {**paired_ratio(pairs).to_json(), "pairs": len(pairs)}


def comparison(
    samples: list[Sample],
    cells: list[dict],
    profiles: list[str],
    switches: list[tuning.Switch],
    order: dict[str, list[str]],
) -> dict:
    """run.json's ``profiles``: the reference, and per cell each profile's numbers, cells in
    the matrix's order (server host, workload, test, implementation, interpreter);
    ``order``: the matrix's implementations, interpreters and workloads."""
    reference = reference_of(profiles)
    rates = repetition_rates(samples)
    grouped: dict[tuple, dict[str, dict]] = {}
    for cell in cells:
        key = (cell["server_host"] or "", cell["workload"], cell["test"],
               cell["implementation"], cell["interpreter"])  # fmt: skip
        grouped.setdefault(key, {})[cell["profile"]] = cell
    position = {
        name: {value: index for index, value in enumerate(order[name])}
        for name in ("implementations", "interpreters", "workloads")
    }
    tests_seen = list(dict.fromkeys(key[2] for key in grouped))

    def place(key):
        host, workload, test, implementation, interpreter = key
        return (
            host,
            position["workloads"].get(workload, len(position["workloads"])),
            workload,
            tests_seen.index(test),
            position["implementations"].get(implementation, len(position["implementations"])),
            implementation,
            position["interpreters"].get(interpreter, len(position["interpreters"])),
            interpreter,
        )

    rows = []
    for key in sorted(grouped, key=place):
        host, workload, test, implementation, interpreter = key
        found = grouped[key]
        base = rates.get((host, reference, implementation, interpreter, workload, test), {})
        entries = {}
        for profile in profiles:
            cell = found.get(profile)
            if cell is None:
                continue
            own = rates.get((host, profile, implementation, interpreter, workload, test), {})
            entries[profile] = {
                "rps": cell["rps"]["median"] if cell["rps"] else None,
                "samples_ok": cell["samples_ok"],
                "share_of_redis": cell["share_of_redis"],
                "redis_client_bound": cell["redis_client_bound"],
                "flags": cell["flags"],
                "ratio_to_reference": (
                    ratio_to(base, own) if profile != reference and base and own else None
                ),
            }
        rows.append(
            {
                "server_host": host or None,
                "workload": workload,
                "test": test,
                "implementation": implementation,
                "interpreter": interpreter,
                "profiles": entries,
            }
        )
    return {
        "reference": reference,
        "profiles": profiles,
        "method": f"ratio_to_reference: {PAIRED_RATIO_METHOD}.",
        "cells": rows,
        "tuning": tuning.summary(switches),
    }


def ratio_for(comparison: dict | None, cell: dict) -> dict | None:
    """A cell's paired ratio to the reference profile (for summary.csv's row of that cell)."""
    for row in (comparison or {}).get("cells", []):
        if (row["server_host"], row["workload"], row["test"], row["implementation"],
                row["interpreter"]) == (cell["server_host"], cell["workload"], cell["test"],
                                        cell["implementation"], cell["interpreter"]):  # fmt: skip
            entry = row["profiles"].get(cell["profile"])
            return entry["ratio_to_reference"] if entry else None
    return None


def ratio_text(entry: dict, is_reference: bool) -> tuple[str, str, str]:
    """(the ratio with its interval, the pairs, the verdict) for a table."""
    if is_reference:
        return "1 (reference)", "", ""
    ratio = entry["ratio_to_reference"]
    if ratio is None:
        return "–", "0", "no repetition measured under both"
    text, verdict = tables.ratio_texts(ratio)
    return text, str(ratio["pairs"]), verdict


def sections(comparison: dict) -> list[tuple]:
    """(server host, workload, test) of the comparison, once each, in its order."""
    return list(
        dict.fromkeys((r["server_host"], r["workload"], r["test"]) for r in comparison["cells"])
    )


def side_by_side(comparison: dict, host, workload: str, test: str, detail: bool = True):
    """One section: a row per implementation and profile (header, rows); without ``detail``
    (the terminal), shares without their interval and no pairs column."""
    reference = comparison["reference"]
    header = [text.format(reference=reference) for text in HEADER]
    rows = []
    for row in comparison["cells"]:
        if (row["server_host"], row["workload"], row["test"]) != (host, workload, test):
            continue
        for profile, entry in row["profiles"].items():
            ratio, pairs, verdict = ratio_text(entry, profile == reference)
            rows.append(
                [
                    f"{row['implementation']}@{row['interpreter']}",
                    profile,
                    tables.entry_rate(entry),
                    tables.entry_share(row, entry, detail),
                    ratio,
                    pairs,
                    verdict,
                ]
            )
    if not detail:
        header = header[:5] + header[6:]
        rows = [row[:5] + row[6:] for row in rows]
    return header, rows


def title(host, workload: str, test: str) -> str:
    return f"{workload}: {test}" + (f" on {host}" if host else "")


def legend(comparison: dict) -> list[str]:
    reference = comparison["reference"]
    why = (
        "the hosts as found, nothing changed"
        if reference == BASELINE
        else f"the first profile listed: this run has no {BASELINE}"
    )
    return [
        f"- Profiles: {', '.join(comparison['profiles'])}. Reference: {reference} ({why}).",
        f"- Ratio to {reference}: {PAIRED_RATIO_METHOD}.",
        "- Share of redis under the profile: each profile's cells are paired with native redis "
        "measured under the same profile (its own reference), so a share says how a server "
        "does against redis on hosts tuned alike; a ratio that native redis shares says the "
        "tuning changed the machine, not the server.",
        "- Each round measured every profile's cells as one block, the profiles' order "
        "rotating from round to round, so no profile is always measured first.",
    ]


def markdown_lines(comparison: dict) -> list[str]:
    lines = ["## Profiles side by side", ""]
    for host, workload, test in sections(comparison):
        header, rows = side_by_side(comparison, host, workload, test)
        lines += [f"### {title(host, workload, test)}", "", tables.markdown(header, rows), ""]
    lines += legend(comparison)
    lines += ["", "### Tuning applied", ""]
    lines += tuning.markdown_lines(comparison["tuning"], comparison["profiles"])
    return lines


def terminal_lines(comparison: dict) -> list[str]:
    lines = []
    for host, workload, test in sections(comparison):
        header, rows = side_by_side(comparison, host, workload, test, detail=False)
        lines += [
            f"{title(host, workload, test)}, profiles side by side "
            f"(ratio to {comparison['reference']}, paired by repetition)",
            tables.plain(header, rows),
            "",
        ]
    failed = [
        f"{profile} on {host}: {', '.join(done['failed'])}"
        for profile, by_host in comparison["tuning"].items()
        for host, done in by_host.items()
        if done["failed"]
    ]
    if failed:
        lines.append("Tuning knobs that FAILED (see report.md): " + "; ".join(failed))
    return lines[:-1] if lines and lines[-1] == "" else lines

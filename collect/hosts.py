"""Server hosts side by side: which VM each is, and what each did for the same cell.

A run with several server hosts measures them at the same time, each driven by its own load
hosts (inventory/examples/cloud-pairs). For every implementation, interpreter, workload and
test, each host's median requests/s, its share of native redis *on that host* (the paired
share the cell carries), and its ratio to the base host (the first by name) with a 95%
interval and a verdict (collect/significance.py: ``median_ratio``). And what a number costs:
requests/s per vCPU always, per dollar-hour where the inventory gave a price.

A host's VM identity comes from its metadata (wirebench_host_metadata: the cloud's instance
metadata service and the inventory's ``wirebench_vm``); a run recorded before it has none,
and its numbers are shown without it. Nothing here fails on missing metadata: a number that
cannot be made is None (a "–" in the tables) and its reason is named once per host.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from collect import tables
from collect.model import BASELINE
from collect.significance import RATIO_METHOD, median_ratio

IDENTITY = ("provider", "type", "region", "zone", "image", "cpu_platform")


@dataclass(frozen=True)
class Vm:
    """Which VM a host is, as its metadata recorded it (every field may be unknown)."""

    provider: str | None = None
    type: str | None = None
    region: str | None = None
    zone: str | None = None
    image: str | None = None
    cpu_platform: str | None = None
    price_per_hour: float | None = None
    sources: dict = field(default_factory=dict)  # field -> "inventory" or "<cloud> metadata"
    probe: str | None = None  # what the metadata probe found, in words

    @classmethod
    def from_host(cls, host: dict) -> Vm:
        """The ``vm`` of a host's metadata (run-meta.json, its shape already checked)."""
        found = host.get("vm") or {}
        return cls(
            **{name: found.get(name) for name in IDENTITY},
            price_per_hour=found.get("price_per_hour"),
            sources=found.get("sources") or {},
            probe=found.get("probe"),
        )

    @property
    def known(self) -> bool:
        return bool(self.provider or self.type)

    @property
    def label(self) -> str:
        """Short, for a table's host label: "aws m7i.large, eu-west-1b" ("" if unknown)."""
        name = " ".join(part for part in (self.provider, self.type) if part)
        where = self.zone or self.region
        return ", ".join(part for part in (name, where) if part)

    def sentence(self) -> str:
        """The whole identity for the report's conditions ("" if nothing is known)."""
        if not self.known and self.price_per_hour is None:
            return ""
        parts = [f"VM {self.label or 'of unknown type'}"]
        if self.region and self.zone and self.region not in self.zone:
            parts.append(f"region {self.region}")
        if self.image:
            parts.append(f"image {self.image}")
        if self.cpu_platform:
            parts.append(f"CPU platform {self.cpu_platform}")
        if self.price_per_hour is not None:
            parts.append(f"${self.price_per_hour:g}/h")
        given = sorted(name for name, source in self.sources.items() if source == "inventory")
        probed = sorted({source for source in self.sources.values() if source != "inventory"})
        said = [f"{', '.join(given)} from the inventory"] if given else []
        said += [f"the rest from {source}" if given else f"from {source}" for source in probed]
        return ", ".join(parts) + (f" ({'; '.join(said)})" if said else "")


def vcpus(host: dict) -> int | None:
    """The CPUs the host let its processes use (its affinity; on a VM, every vCPU it has),
    else its online CPU count; None when neither was recorded."""
    for name in ("cpus_usable", "cpu_count"):
        value = host.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


@dataclass(frozen=True)
class ServerHost:
    name: str
    vm: Vm
    vcpus: int | None
    price_per_hour: float | None
    problems: tuple[str, ...] = ()  # why a number of this host cannot be made

    @property
    def label(self) -> str:
        return f"{self.name} ({self.vm.label})" if self.vm.label else self.name

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "vm": {
                **{name: getattr(self.vm, name) for name in IDENTITY},
                "price_per_hour": self.vm.price_per_hour,
                "sources": self.vm.sources,
                "probe": self.vm.probe,
            },
            "vcpus": self.vcpus,
            "price_per_hour": self.price_per_hour,
            "problems": list(self.problems),
        }


def server_host(name: str, host: dict | None) -> ServerHost:
    if host is None:
        return ServerHost(name, Vm(), None, None, (f"{name} is not in run-meta.json's servers",))
    vm = Vm.from_host(host)
    problems = []
    count = vcpus(host)
    if count is None:
        problems.append(f"{name}: no CPU count recorded, so no requests/s per vCPU")
    price = vm.price_per_hour
    if price is not None and not (math.isfinite(price) and price > 0):
        problems.append(f"{name}: price_per_hour {price!r} is not a positive number; not used")
        price = None
    return ServerHost(name, vm, count, price, tuple(problems))


def server_hosts(meta: dict, cells: list[dict]) -> dict[str, ServerHost]:
    """Every server host of the run, base first (by name, as the report's sections go)."""
    servers = meta.get("servers") or {}
    names = sorted(set(servers) | {c["server_host"] for c in cells if c["server_host"]})
    return {name: server_host(name, servers.get(name)) for name in names}


def per(value, divisor):
    return value / divisor if value is not None and divisor else None


def host_entry(cell: dict, host: ServerHost, base_cell: dict | None, is_base: bool) -> dict:
    """What one host did for one cell, and its ratio to the base host's."""
    rate = cell["rps"]["median"] if cell["rps"] else None
    ratio = None
    if rate is not None and base_cell and base_cell["rps"] and not is_base:
        ratio = median_ratio(base_cell["rps"]["values"], cell["rps"]["values"]).to_json()
    return {
        "rps": rate,
        "samples_ok": cell["samples_ok"],
        "share_of_redis": cell["share_of_redis"],
        "redis_client_bound": cell["redis_client_bound"],
        "rps_per_vcpu": per(rate, host.vcpus),
        "rps_per_dollar_hour": per(rate, host.price_per_hour),
        "ratio_to_base": ratio,
        "flags": cell["flags"],
    }


def comparison(
    cells: list[dict],
    meta: dict,
    implementations: list[str],
    interpreters: list[str],
    workloads: list[str],
) -> dict:
    """run.json's ``hosts``: the server hosts and, per cell, each host's numbers, cells in
    the matrix's order (workload, test, implementation, interpreter)."""
    hosts = server_hosts(meta, cells)
    base = next(iter(hosts), None)
    grouped: dict[tuple, dict[str, dict]] = {}
    for cell in cells:
        # Each tuning profile's cells are compared across hosts apart (collect/profiles.py
        # compares the profiles).
        key = (
            cell["workload"],
            cell["test"],
            cell["implementation"],
            cell["interpreter"],
            cell["profile"],
        )
        grouped.setdefault(key, {})[cell["server_host"] or base] = cell
    order = {name: i for i, name in enumerate(implementations)}
    columns = {name: i for i, name in enumerate(["native", *interpreters])}
    workload_order = {name: i for i, name in enumerate(workloads)}
    tests_seen = list(dict.fromkeys(key[1] for key in grouped))
    rows = []
    for key in sorted(
        grouped,
        key=lambda k: (
            workload_order.get(k[0], len(workload_order)),
            k[0],
            tests_seen.index(k[1]),
            order.get(k[2], len(order)),
            k[2],
            columns.get(k[3], len(columns)),
            k[3],
            k[4] != BASELINE,
            k[4],
        ),
    ):
        found = grouped[key]
        base_cell = found.get(base)
        rows.append(
            {
                "workload": key[0],
                "test": key[1],
                "implementation": key[2],
                "interpreter": key[3],
                "profile": key[4],
                "hosts": {
                    name: host_entry(found[name], host, base_cell, name == base)
                    for name, host in hosts.items()
                    if name in found
                },
            }
        )
    return {
        "base": base,
        "method": f"ratio_to_base: {RATIO_METHOD}.",
        "servers": {name: host.to_json() for name, host in hosts.items()},
        "cells": rows,
    }


def entry_for(comparison: dict, cell: dict) -> dict | None:
    """A cell's entry in the comparison (for summary.csv's row of that cell)."""
    for row in comparison["cells"]:
        if (
            row["workload"],
            row["test"],
            row["implementation"],
            row["interpreter"],
            row["profile"],
        ) == (
            cell["workload"],
            cell["test"],
            cell["implementation"],
            cell["interpreter"],
            cell["profile"],
        ):
            return row["hosts"].get(cell["server_host"] or comparison["base"])
    return None


def ratio_text(entry: dict, is_base: bool) -> tuple[str, str]:
    """(the ratio with its interval, the verdict) for a table."""
    if is_base:
        return "1 (base)", ""
    ratio = entry["ratio_to_base"]
    if ratio is None:
        return "–", "no rate on both hosts"
    return tables.ratio_texts(ratio, f"df {ratio['degrees_of_freedom']}")


SIDE_BY_SIDE_HEADER = [
    "implementation",
    "server host",
    "requests/s",
    "share of redis on the host (95% CI)",
    "ratio to {base} (95% CI)",
    "different?",
    "requests/s per vCPU",
    "requests/s per $/h",
]


def side_by_side(comparison: dict, workload: str, test: str, detail: bool = True):
    """One workload's test: a row per implementation and server host (header, rows); without
    ``detail`` (the terminal), shares without their interval."""
    servers = comparison["servers"]
    base = comparison["base"]
    header = [text.format(base=base) for text in SIDE_BY_SIDE_HEADER]
    rows = []
    for row in comparison["cells"]:
        if (row["workload"], row["test"]) != (workload, test):
            continue
        for name, entry in row["hosts"].items():
            ratio, verdict = ratio_text(entry, name == base)
            profile = "" if row["profile"] == BASELINE else f" under {row['profile']}"
            rows.append(
                [
                    f"{row['implementation']}@{row['interpreter']}{profile}",
                    servers[name]["label"],
                    tables.entry_rate(entry),
                    tables.entry_share(row, entry, detail),
                    ratio,
                    verdict,
                    tables.rate(entry["rps_per_vcpu"]),
                    tables.rate(entry["rps_per_dollar_hour"]),
                ]
            )
    return header, rows


def legend(comparison: dict) -> list[str]:
    servers = comparison["servers"]
    lines = [
        f"- Ratio to {comparison['base']} (the base: the first server host by name): "
        f"{RATIO_METHOD}. The share of redis is each host's own (paired with native redis on "
        "that host), so a ratio that native redis shares says the machine differs, not the "
        "server.",
        "- requests/s per vCPU: the median requests/s over the CPUs the server host let its "
        "processes use (on a VM, its vCPUs; recorded as cpus_usable, else cpu_count). "
        "requests/s per $/h: the median requests/s over the host's price per hour "
        "(wirebench_vm.price_per_hour in the inventory; – without one).",
    ]
    for name, host in servers.items():
        vm = host["vm"]
        if vm["probe"] and not (vm["provider"] or vm["type"]):
            lines.append(f"- {name}: no VM identity ({vm['probe']}).")
        lines += [f"- {problem}." for problem in host["problems"]]
    return lines

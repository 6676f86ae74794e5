"""What each host's settings were: the agent's `tune snapshot` replies the run keeps as
``tuning-snapshot/<host>/<label>-<UTC time>.json`` ({host, role, label, reply}; the reply is
agent/tuning/snapshot.py's: every readable sysctl, the kernel command line, SMT, NUMA nodes
and the NIC's, where the NIC's queue IRQs may run, irqbalance, transparent hugepages, the
governors, turbo and the C-state latency wirebench holds).

A host is read once when the run starts (label ``as-found``, before any profile) and once after
each profile is first applied (label: the profile's name). The report shows each host as found
and, per profile, only what differs from it; ``compare`` names each setting that differs
between two runs' snapshots of the same host and label. A file that is not such a record is
named among the run's problems, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from collect import rawfiles
from collect.shapes import (
    AGENT_OUTCOME,
    BOOLEAN,
    INTEGER,
    NUMBER,
    TEXT,
    Fields,
    ListOf,
    MapOf,
    Maybe,
    ShapeError,
)

FOLDER = "tuning-snapshot"
AS_FOUND = "as-found"
ROLES = ("server", "load")
TIME = re.compile(r"\d{8}T\d{6}(\.\d+)?Z\.json")  # 20261128T100000.123456Z.json

# Sysctls whose values change on their own between two reads: counters of the kernel's objects
# in use, ids drawn afresh. They say nothing about how a host was set up, so they are never
# called a difference. Found by measurement: tests/collect/golden/snapshots/take.sh took two
# snapshots of a 2-CPU VM (Linux 6.x) 3 s apart, with processes started, files made, TCP
# connections, a pseudo-terminal and an AIO context held open and a sync between them; repeated
# four times, these nine changed every time and nothing else did (first.json and second.json
# there are the last pair; tests/collect/test_snapshots.py checks the list against them).
MEASURED_VOLATILE = frozenset(
    {
        "fs.aio-nr",  # AIO requests in use
        "fs.dentry-state",  # dentries allocated, unused, ...
        "fs.file-nr",  # file handles allocated
        "fs.inode-nr",  # inodes allocated, free
        "fs.inode-state",
        "fs.quota.syncs",  # counts quota syncs: every sync(2)
        "kernel.ns_last_pid",  # the last PID handed out
        "kernel.pty.nr",  # pseudo-terminals in use
        "kernel.random.uuid",  # a new UUID on every read
    }
)
# Values of the same kind that the measurement cannot show move, named from the kernel's
# documentation (Documentation/admin-guide/sysctl/): boot_id is drawn at every boot, so it
# differs between any two runs a reboot apart; entropy_avail is a counter (a constant 256
# since Linux 5.18, as on the measured VM, but it moves on older kernels); the conntrack
# count is the connections being tracked (0 on a host that tracks none); the other fs.quota
# counters count quota operations (all 0 on a host without quotas). fs.quota.warnings is a
# setting and stays compared.
NAMED_VOLATILE = frozenset(
    {
        "kernel.random.boot_id",
        "kernel.random.entropy_avail",
        "net.netfilter.nf_conntrack_count",
        *(
            f"fs.quota.{name}"
            for name in (
                "allocated_dquots",
                "cache_hits",
                "drops",
                "free_dquots",
                "lookups",
                "reads",
                "writes",
            )
        ),
    }
)
VOLATILE = MEASURED_VOLATILE | NAMED_VOLATILE

SNAPSHOT = Fields(
    {
        "cpus_online": Maybe(TEXT),
        "cmdline": Maybe(TEXT),
        "smt": Maybe(
            Fields({"active": Maybe(BOOLEAN), "control": Maybe(TEXT), "from": Maybe(TEXT)})
        ),
        "numa_nodes": Maybe(MapOf(Maybe(TEXT))),
        "governors": Maybe(MapOf(Maybe(TEXT))),
        "turbo": Maybe(TEXT),
        "thp": Maybe(MapOf(Maybe(TEXT))),
        "irqbalance": Maybe(TEXT),
        "cstate_latency_held_us": Maybe(NUMBER),
        "nic": Maybe(
            Fields(
                {
                    "interface": Maybe(TEXT),
                    "numa_node": Maybe(INTEGER),
                    "irqs": Maybe(MapOf(TEXT)),
                    "irqs_reason": Maybe(TEXT),
                }
            )
        ),
        "sysctl": MapOf(TEXT),
        "sysctl_withheld": Maybe(ListOf(TEXT)),
    }
)
RECORD = Fields(
    {
        "host": TEXT,
        "role": Maybe(TEXT),
        "label": TEXT,
        "reply": Fields(
            {
                **AGENT_OUTCOME,
                "snapshot": Maybe(SNAPSHOT),
                "absent": Maybe(ListOf(TEXT)),
            }
        ),
    }
)


@dataclass(frozen=True)
class Snapshot:
    """One `tune snapshot` of a host, as its file records it (``failure`` when not taken)."""

    host: str
    role: str | None
    label: str
    file: str  # relative to the run folder
    failure: str | None = None
    cpus_online: str | None = None
    cmdline: str | None = None
    smt: bool | None = None
    smt_control: str | None = None
    numa_nodes: dict = field(default_factory=dict)  # {"node0": "0-15"}
    nic: str | None = None  # the interface's name
    nic_node: int | None = None  # the kernel's numa_node: -1 for none
    irqs: dict | None = None  # {irq: CPU list}; None when they could not be read
    irqs_reason: str | None = None
    irqbalance: str | None = None
    thp: dict = field(default_factory=dict)  # {"enabled": ..., "defrag": ...}
    governors: dict = field(default_factory=dict)  # {cpu: governor}
    turbo: str | None = None
    cstate_latency_us: float | None = None
    sysctl: dict = field(default_factory=dict)
    sysctl_withheld: tuple = ()
    absent: tuple = ()

    def fields(self) -> dict:
        """The settings other than sysctls, by the name a difference is reported under."""
        return {
            "cmdline": self.cmdline,
            "cpus online": self.cpus_online,
            "smt": self.smt,
            "smt control": self.smt_control,
            "numa_nodes": self.numa_nodes,
            "nic node": self.nic_node,
            "irqs": self.irqs,
            "irqbalance": self.irqbalance,
            "thp": self.thp,
            "governors": self.governors,
            "turbo": self.turbo,
            "cstate latency held": self.cstate_latency_us,
        }

    def to_json(self) -> dict:
        return {
            "role": self.role,
            "file": self.file,
            "failure": self.failure,
            "cpus_online": self.cpus_online,
            "cmdline": self.cmdline,
            "smt": {"active": self.smt, "control": self.smt_control},
            "numa_nodes": self.numa_nodes,
            "nic": {
                "interface": self.nic,
                "numa_node": self.nic_node,
                "irqs": self.irqs,
                "irqs_reason": self.irqs_reason,
            },
            "irqbalance": self.irqbalance,
            "thp": self.thp,
            "governors": self.governors,
            "turbo": self.turbo,
            "cstate_latency_held_us": self.cstate_latency_us,
            "sysctl": self.sysctl,
            "sysctl_withheld": list(self.sysctl_withheld),
            "absent": list(self.absent),
        }


def read_snapshots(run_path: Path) -> tuple[list[Snapshot], list[str]]:
    """Every record under ``tuning-snapshot/``, by host then file name, and the problems met
    reading them. A host's second snapshot under one label (a resumed run takes its own) is
    named and left out: the first is the host before the run touched it."""
    found: list[Snapshot] = []
    problems: list[str] = []
    for host, name, file, record in rawfiles.host_records(
        Path(run_path), FOLDER, RECORD, "a settings snapshot", problems
    ):
        try:
            found.append(snapshot_of(record, host, name, file))
        except ShapeError as exc:
            problems.append(f"{file}: {exc}; not used")
    kept: dict[tuple, Snapshot] = {}
    for snapshot in found:
        key = (snapshot.host, snapshot.label)
        if key in kept:
            problems.append(
                f"{snapshot.file}: a second {snapshot.label} snapshot of {snapshot.host} "
                f"(the first is {kept[key].file}); not used"
            )
            continue
        kept[key] = snapshot
    return list(kept.values()), problems


def snapshot_of(record: dict, host: str, name: str, file: str) -> Snapshot:
    """The snapshot a checked record stands for; ShapeError when it contradicts its place."""
    if record["host"] != host:
        raise ShapeError(f"host {record['host']!r} is not its folder's {host!r}")
    # <label>-<UTC time>.json: the rest a time, so label "network" is not network-latency's.
    if not (
        name.startswith(f"{record['label']}-") and TIME.fullmatch(name[len(record["label"]) + 1 :])
    ):
        raise ShapeError(f"label {record['label']!r} is not the one its name starts with")
    if record.get("role") is not None and record["role"] not in ROLES:
        raise ShapeError(f"role {record['role']!r} is not one of {', '.join(ROLES)}")
    common = {"host": host, "role": record.get("role"), "label": record["label"], "file": file}
    reply = record["reply"]
    taken = reply.get("snapshot")
    if reply.get("failed") or reply.get("unreachable") or taken is None:
        return Snapshot(**common, failure=reply.get("msg") or "the agent gave no reason")
    smt = taken.get("smt") or {}
    nic = taken.get("nic") or {}
    return Snapshot(
        **common,
        cpus_online=taken.get("cpus_online"),
        cmdline=taken.get("cmdline"),
        smt=smt.get("active"),
        smt_control=smt.get("control"),
        numa_nodes=dict(taken.get("numa_nodes") or {}),
        nic=nic.get("interface"),
        nic_node=nic.get("numa_node"),
        irqs=dict(nic["irqs"]) if nic.get("irqs") is not None else None,
        irqs_reason=nic.get("irqs_reason"),
        irqbalance=taken.get("irqbalance"),
        thp=dict(taken.get("thp") or {}),
        governors=dict(taken.get("governors") or {}),
        turbo=taken.get("turbo"),
        cstate_latency_us=taken.get("cstate_latency_held_us"),
        sysctl=dict(taken["sysctl"]),
        sysctl_withheld=tuple(taken.get("sysctl_withheld") or ()),
        absent=tuple(reply.get("absent") or ()),
    )


@dataclass(frozen=True)
class Differences:
    """What differs between two snapshots: sysctls as (key, before, after), a key only one
    has with None on the other side, volatile ones left out; other settings as
    (name, before, after)."""

    sysctl: tuple = ()
    fields: tuple = ()

    def __bool__(self) -> bool:
        return bool(self.sysctl or self.fields)


def differences(before: Snapshot, after: Snapshot) -> Differences:
    keys = sorted((set(before.sysctl) | set(after.sysctl)) - VOLATILE)
    sysctl = tuple(
        (key, before.sysctl.get(key), after.sysctl.get(key))
        for key in keys
        if before.sysctl.get(key) != after.sysctl.get(key)
    )
    old, new = before.fields(), after.fields()
    return Differences(sysctl, tuple((n, old[n], new[n]) for n in old if old[n] != new[n]))


def by_host(snapshots: list[Snapshot]) -> dict[str, dict[str, Snapshot]]:
    """{host: {label: snapshot}}, as-found first, then the labels in file order."""
    found: dict[str, dict[str, Snapshot]] = {}
    for snapshot in sorted(snapshots, key=lambda s: (s.host, s.label != AS_FOUND)):
        found.setdefault(snapshot.host, {})[snapshot.label] = snapshot
    return found


def block(snapshots: list[Snapshot]) -> dict:
    """run.json's ``snapshots``: per host, per label, every field read (the sysctl table
    included); a profile's entry also says what differs from as-found."""
    found: dict = {}
    for host, labels in by_host(snapshots).items():
        start = labels.get(AS_FOUND)
        for label, snapshot in labels.items():
            entry = snapshot.to_json()
            if label != AS_FOUND and start and not start.failure and not snapshot.failure:
                changed = differences(start, snapshot)
                entry["differs_from_as_found"] = {
                    "sysctl": {key: [old, new] for key, old, new in changed.sysctl},
                    "fields": {name: [old, new] for name, old, new in changed.fields},
                }
            found.setdefault(host, {})[label] = entry
    return found


# Report and compare: settings in words.

# The report names this many sysctls a profile changed per host; compare this many
# differences per host, then how many more (run.json has them all).
SHOWN_SYSCTLS = 20


def cpu_ranges(numbers) -> str:
    """[0, 1, 2, 5] -> "0-2,5" (the kernel's own list form)."""
    ordered = sorted(set(numbers))
    parts, start = [], None
    for index, number in enumerate(ordered):
        if start is None:
            start = number
        if index + 1 == len(ordered) or ordered[index + 1] != number + 1:
            parts.append(str(start) if start == number else f"{start}-{number}")
            start = None
    return ",".join(parts)


def grouped(mapping: dict) -> dict:
    """{value: [keys]} of a {number-like key: value} map, keys in numeric order."""
    groups: dict = {}
    numeric = all(str(key).isdigit() for key in mapping)
    for key in sorted(mapping, key=lambda k: int(k) if numeric else str(k)):
        groups.setdefault(mapping[key], []).append(key)
    return groups


def as_ranges(keys) -> str:
    if all(str(k).isdigit() for k in keys):
        return cpu_ranges(int(k) for k in keys)
    return ",".join(str(k) for k in keys)


def shown_sysctl(value) -> str:
    return "absent" if value is None else value


def shown(name: str, value) -> str:
    """A setting's value in words for the report and compare."""
    if value is None:
        # The agent reads no held latency as None: nothing holds one.
        return "none" if name == "cstate latency held" else "not read"
    if value == {}:
        return "none (no cpufreq)" if name == "governors" else "none"
    if name == "smt":
        return "on" if value else "off"
    if name in ("governors", "irqs"):
        return "; ".join(f"{as_ranges(keys)} → {target}" for target, keys in grouped(value).items())
    if name == "numa_nodes":
        return "; ".join(f"{node}: {cpus}" for node, cpus in value.items())
    if name == "nic node":
        return "none (-1)" if value == -1 else str(value)
    if name == "thp":
        return ", ".join(f"{setting} {chosen}" for setting, chosen in value.items())
    if name == "cstate latency held":
        return f"{value:g} µs"
    return str(value)


def as_found_rows(snapshot: Snapshot) -> list[tuple[str, str]]:
    """(what, its value in words) for the report's table of a host as found."""
    if snapshot.failure:
        return [("snapshot", f"not taken: {snapshot.failure}")]
    irqs = (
        shown("irqs", snapshot.irqs)
        if snapshot.irqs
        else (snapshot.irqs_reason or "none")
        if snapshot.nic
        else "no NIC named"
    )
    withheld = len(snapshot.sysctl_withheld)
    return [
        (
            "SMT",
            shown("smt", snapshot.smt)
            + (f" ({snapshot.smt_control})" if snapshot.smt_control else ""),
        ),
        ("NUMA nodes", shown("numa_nodes", snapshot.numa_nodes)),
        (
            "NIC's node",
            f"{snapshot.nic}: {shown('nic node', snapshot.nic_node)}"
            if snapshot.nic
            else "no NIC named",
        ),
        ("governors", shown("governors", snapshot.governors)),
        ("turbo", shown("turbo", snapshot.turbo)),
        ("THP", shown("thp", snapshot.thp)),
        ("irqbalance", shown("irqbalance", snapshot.irqbalance)),
        ("NIC IRQ → CPUs", irqs),
        ("C-state latency held", shown("cstate latency held", snapshot.cstate_latency_us)),
        (
            "sysctls recorded",
            f"{len(snapshot.sysctl):,}" + (f" ({withheld} withheld)" if withheld else ""),
        ),
    ]


def change_phrases(changed: Differences, limit: int = SHOWN_SYSCTLS) -> list[str]:
    """Each difference as "key old → new", sysctls first (the first ``limit`` of them)."""
    phrases = [
        f"{key} {shown_sysctl(old)} → {shown_sysctl(new)}"
        for key, old, new in changed.sysctl[:limit]
    ]
    if len(changed.sysctl) > limit:
        phrases.append(f"and {len(changed.sysctl) - limit} more sysctls (run.json's snapshots)")
    for name, old, new in changed.fields:
        if name == "thp" and old and new:  # only the THP settings that changed
            phrases += [
                f"thp {setting} {old.get(setting)} → {new.get(setting)}"
                for setting in dict.fromkeys([*old, *new])
                if old.get(setting) != new.get(setting)
            ]
        else:
            phrases.append(f"{name} {shown(name, old)} → {shown(name, new)}")
    return phrases


def markdown_lines(snapshots: list[Snapshot]) -> list[str]:
    """report.md's "Host settings" section; [] when the run kept no snapshot."""
    hosts = by_host(snapshots)
    if not hosts:
        return []
    names = list(hosts)
    found = {host: labels.get(AS_FOUND) for host, labels in hosts.items()}
    lines = [
        "## Host settings",
        "",
        "Read on each host by the agent (`tune snapshot`) when the run started (as found) and "
        "after each profile was first applied. Counters that move on their own (fs.file-nr, "
        "kernel.random.uuid, …) are not compared.",
        "",
    ]
    with_start = [host for host in names if found[host]]
    if with_start:
        rows = [as_found_rows(found[host]) for host in with_start]
        header = ["as found"] + [
            f"{host} ({found[host].role})" if found[host].role else host for host in with_start
        ]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        whats = list(dict.fromkeys(what for host_rows in rows for what, _ in host_rows))
        for what in whats:
            cells = [dict(host_rows).get(what, "—").replace("|", "\\|") for host_rows in rows]
            lines.append(f"| {what} | " + " | ".join(cells) + " |")
        lines.append("")
        # The command line is long and mostly the same on every host: each one once.
        cmdlines: dict = {}
        for host in with_start:
            if not found[host].failure:
                cmdlines.setdefault(found[host].cmdline, []).append(host)
        lines += [
            f"- Kernel command line of {', '.join(hosts)}: "
            + (f"`{cmdline}`" if cmdline else "not read")
            for cmdline, hosts in cmdlines.items()
        ]
    for host in names:
        start = found[host]
        if start is None:
            lines.append(f"- {host}: no {AS_FOUND} snapshot; its profiles are not compared.")
            continue
        for label, snapshot in hosts[host].items():
            if label == AS_FOUND:
                continue
            if snapshot.failure or start.failure:
                why = snapshot.failure or f"{AS_FOUND} was not taken"
                lines.append(f"- `{label}` on {host}: not compared: {why}")
                continue
            changed = differences(start, snapshot)
            said = "; ".join(change_phrases(changed)) if changed else "the same as found"
            lines.append(f"- `{label}` on {host}: {said}.")
    return [*lines, ""] if lines[-1] != "" else lines


def compare_warnings(runs: list[list[Snapshot]], names: list[str]) -> list[str]:
    """What differs between the base run's snapshots and each other run's, of the same host
    under the same label (as-found, and each profile both runs read): each sysctl with both
    values (the first SHOWN_SYSCTLS per host, then how many more) and each other setting. A
    profile's differences already named under as-found, with the same values, are not named
    again."""
    warnings = []
    base = by_host(runs[0])
    for other_name, other_run in zip(names[1:], runs[1:]):
        other = by_host(other_run)
        pair = f"{names[0]} vs {other_name}"
        one_sided = sorted(set(base) ^ set(other)) if base and other else []
        if one_sided:
            warnings.append(
                "host settings not compared for "
                + ", ".join(
                    f"{h} (in {names[0] if h in base else other_name} only)" for h in one_sided
                )
            )
        elif bool(base) != bool(other):
            warnings.append(
                f"host settings not compared: {other_name if base else names[0]} kept no snapshot"
            )
        for host in sorted(set(base) & set(other)):
            warnings += host_warnings(host, base[host], other[host], pair, names[0], other_name)
    return warnings


def host_warnings(host, base: dict, other: dict, pair, base_name, other_name) -> list[str]:
    seen: set = set()
    sysctl_lines, field_lines, more = [], [], 0
    labels = [label for label in base if label in other]
    for label in labels:
        before, after = base[label], other[label]
        if before.failure or after.failure:
            continue
        changed = differences(before, after)
        for key, old, new in changed.sysctl:
            if ("sysctl", key, old, new) in seen:
                continue
            seen.add(("sysctl", key, old, new))
            if len(sysctl_lines) < SHOWN_SYSCTLS:
                sysctl_lines.append(
                    f"{host} {label}: sysctl {key} differs: {shown_sysctl(old)!r} ({base_name}) "
                    f"vs {shown_sysctl(new)!r} ({other_name})"
                )
            else:
                more += 1
        for name, old, new in changed.fields:
            if (name, repr(old), repr(new)) in seen:
                continue
            seen.add((name, repr(old), repr(new)))
            field_lines.append(
                f"{host} {label}: {name} differs: {shown(name, old)!r} ({base_name}) vs "
                f"{shown(name, new)!r} ({other_name})"
            )
    if more:
        sysctl_lines.append(
            f"{host}: {more} more sysctl differences ({pair}; run.json's snapshots have them all)"
        )
    return field_lines + sysctl_lines

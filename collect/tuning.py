"""What each tuning profile did on each host: the agent's `tune apply` replies the run keeps as
``tuning/<host>/<profile>-<UTC time>.json`` ({host, role, profile, reply}; the reply is
agent/tuning/state.py's: per knob its status, applied, unchanged, unavailable or failed, with
the reason, and ``switch_seconds``, what the switch cost on the host).

A profile's numbers are only what the profile really set: a knob the host could not change
(a VM without cpufreq, a container's read-only sysctl) is named with its reason next to the
comparison of profiles, and so is one that failed. A file that is not such a record is named
among the run's problems, never fatal.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from collect import rawfiles
from collect.shapes import (
    AGENT_OUTCOME,
    ANY,
    BOOLEAN,
    NUMBER,
    TEXT,
    Fields,
    ListOf,
    Maybe,
    ShapeError,
)

FOLDER = "tuning"
APPLIED, UNCHANGED, UNAVAILABLE, FAILED = "applied", "unchanged", "unavailable", "failed"
STATUSES = (APPLIED, UNCHANGED, UNAVAILABLE, FAILED)
KNOB = Fields(
    {
        "id": TEXT,
        "kind": Maybe(TEXT),
        "status": TEXT,
        "reason": Maybe(TEXT),
        "required": Maybe(BOOLEAN),
        "reset": Maybe(BOOLEAN),  # a knob of the profile before, put back to the host's own
        "wanted": ANY,
        "read_back": ANY,
    }
)
RECORD = Fields(
    {
        "host": TEXT,
        "role": Maybe(TEXT),
        "profile": TEXT,
        "reply": Fields(
            {
                **AGENT_OUTCOME,
                "switch_seconds": Maybe(NUMBER),
                "knobs": Maybe(ListOf(KNOB)),
            }
        ),
    }
)


@dataclass(frozen=True)
class Knob:
    id: str
    status: str
    reason: str = ""
    reset: bool = False


@dataclass(frozen=True)
class Switch:
    """One `tune apply` of a profile on a host, as its file records it."""

    host: str
    role: str | None
    profile: str
    file: str  # relative to the run folder
    switch_seconds: float | None
    failed: bool
    msg: str
    knobs: tuple[Knob, ...]


def read_switches(run_path: Path) -> tuple[list[Switch], list[str]]:
    """Every record under ``tuning/``, in file order per host, and the problems met reading
    them (a file that is not a record is named and left out)."""
    switches: list[Switch] = []
    problems: list[str] = []
    for host, name, file, record in rawfiles.host_records(
        Path(run_path), FOLDER, RECORD, "a tuning record", problems
    ):
        try:
            switches.append(switch_of(record, host, name, file))
        except ShapeError as exc:
            problems.append(f"{file}: {exc}; not used")
    return switches, problems


def switch_of(record: dict, host: str, name: str, file: str) -> Switch:
    """The switch a checked record stands for; ShapeError when it contradicts its place."""
    if record["host"] != host:
        raise ShapeError(f"host {record['host']!r} is not its folder's {host!r}")
    if not name.startswith(f"{record['profile']}-"):
        raise ShapeError(f"profile {record['profile']!r} is not the one its name starts with")
    reply = record["reply"]
    knobs = []
    for index, knob in enumerate(reply.get("knobs") or []):
        if knob["status"] not in STATUSES:
            raise ShapeError(
                f"reply.knobs[{index}].status {knob['status']!r} is not one of "
                f"{', '.join(STATUSES)}"
            )
        knobs.append(Knob(knob["id"], knob["status"], knob.get("reason") or "",
                          bool(knob.get("reset"))))  # fmt: skip
    seconds = reply.get("switch_seconds")
    return Switch(
        host=host,
        role=record.get("role"),
        profile=record["profile"],
        file=file,
        switch_seconds=float(seconds) if seconds is not None else None,
        failed=bool(reply.get("failed") or reply.get("unreachable")),
        msg=reply.get("msg") or "",
        knobs=tuple(knobs),
    )


# The worst a knob did over a profile's switches on a host is what the report says of it.
WORST = {APPLIED: 0, UNCHANGED: 0, UNAVAILABLE: 1, FAILED: 2}


def summary(switches: list[Switch]) -> dict:
    """{profile: {host: what the profile did there}}: its own knobs in force (applied, or
    already at the value), unavailable and failed ones with their reasons, the knobs of the
    profile before it put back, failed switches, and the median switch cost."""
    grouped: dict[tuple, list[Switch]] = {}
    for switch in switches:
        grouped.setdefault((switch.profile, switch.host), []).append(switch)
    found: dict = {}
    for (profile, host), done in sorted(grouped.items()):
        worst: dict[str, Knob] = {}
        put_back = set()
        for switch in done:
            for knob in switch.knobs:
                if knob.reset:
                    put_back.add(knob.id)
                    continue
                if knob.id not in worst or WORST[knob.status] > WORST[worst[knob.id].status]:
                    worst[knob.id] = knob
        seconds = [s.switch_seconds for s in done if s.switch_seconds is not None]
        found.setdefault(profile, {})[host] = {
            "role": done[0].role,
            "switches": len(done),
            "failed_switches": [f"{s.file}: {s.msg}" for s in done if s.failed],
            "switch_seconds_median": statistics.median(seconds) if seconds else None,
            "in_force": sorted(k for k, v in worst.items() if WORST[v.status] == 0),
            "unavailable": {
                k: v.reason for k, v in sorted(worst.items()) if v.status == UNAVAILABLE
            },
            "failed": {k: v.reason for k, v in sorted(worst.items()) if v.status == FAILED},
            "put_back": sorted(put_back),
            "files": [s.file for s in done],
        }
    return found


def markdown_lines(found: dict, profiles: list[str]) -> list[str]:
    """The profiles section's "Tuning applied": per profile per host, in words."""
    if not found:
        return [
            "No tuning record was kept (tuning/<host>/<profile>-<time>.json): what each "
            "profile set on the hosts is not known to this report."
        ]
    lines = []
    for profile in [p for p in profiles if p in found] + sorted(set(found) - set(profiles)):
        for host, done in found[profile].items():
            role = f" ({done['role']})" if done["role"] else ""
            cost = done["switch_seconds_median"]
            parts = [
                f"in force: {', '.join(done['in_force'])}"
                if done["in_force"]
                else "no knob of its own"
            ]
            if done["unavailable"]:
                parts.append(
                    "unavailable: "
                    + "; ".join(f"{k} ({why})" for k, why in done["unavailable"].items())
                )
            if done["failed"]:
                parts.append(
                    "FAILED: " + "; ".join(f"{k} ({why})" for k, why in done["failed"].items())
                )
            if done["put_back"]:
                parts.append(f"put back to the host's own: {len(done['put_back'])} knobs")
            plural = "es" if done["switches"] != 1 else ""
            parts.append(
                f"switch cost: median {cost:.3f} s over {done['switches']} switch{plural}"
                if cost is not None
                else f"{done['switches']} switch{plural}, cost not recorded"
            )
            lines.append(f"- `{profile}` on {host}{role}: " + "; ".join(parts) + ".")
            lines += [f"  - switch FAILED: {text}" for text in done["failed_switches"]]
    return lines

"""The network path of each pair, measured from the load host before the cells
(agent/network.py; the run keeps each reading as ``network/<server host>/<load host>-<time>.json``).

Two VM types are compared fairly only over alike paths: each path's round trip, its route
(the same subnet, or through a gateway), the MTU at both ends and whether a packet of that
full size crosses unfragmented. What is wrong with a path is said in words above the tables.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from collect import rawfiles, tables
from collect.shapes import AGENT_OUTCOME, BOOLEAN, INTEGER, NUMBER, TEXT, Fields, ListOf, Maybe

READING = Fields(
    {
        **AGENT_OUTCOME,
        "load_host": TEXT,
        "address": Maybe(TEXT),
        "started": Maybe(NUMBER),
        "route": Maybe(
            Fields(
                {
                    "interface": Maybe(TEXT),
                    "source": Maybe(TEXT),
                    "gateway": Maybe(TEXT),
                    "subnet": Maybe(TEXT),
                    "same_subnet": Maybe(BOOLEAN),
                    "mtu": Maybe(INTEGER),
                }
            )
        ),
        "full_size_packet": Maybe(
            Fields({"size": Maybe(INTEGER), "passed": Maybe(BOOLEAN), "msg": Maybe(TEXT)})
        ),
        "round_trips": Maybe(Fields({"sent": INTEGER, "ms": ListOf(NUMBER)})),
    }
)
FOLDER = "network"
# The share of echoes lost above which a path is called lossy (one in a hundred: a LAN or a
# cloud VPC loses none of 50 echoes in a second unless something is wrong).
LOSS_LIMIT = 0.01


@dataclass(frozen=True)
class NetworkPath:
    """One load host's reading of its path to one server host's bench address."""

    server_host: str
    load_host: str
    file: str  # relative to the run folder
    started: float | None = None
    address: str | None = None
    failure: str | None = None  # why there is no reading
    interface: str | None = None
    gateway: str | None = None
    subnet: str | None = None
    same_subnet: bool | None = None
    load_mtu: int | None = None
    server_mtu: int | None = None
    full_size_passed: bool | None = None
    full_size_msg: str = ""
    sent: int = 0
    rtt_ms: list = field(default_factory=list)

    @property
    def lost(self) -> int:
        return max(0, self.sent - len(self.rtt_ms))

    @property
    def rtt_median_ms(self) -> float | None:
        return statistics.median(self.rtt_ms) if self.rtt_ms else None

    @property
    def rtt_p90_ms(self) -> float | None:
        if not self.rtt_ms:
            return None
        ordered = sorted(self.rtt_ms)
        return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]

    @property
    def rtt_max_ms(self) -> float | None:
        return max(self.rtt_ms) if self.rtt_ms else None

    def problems(self) -> list[str]:
        """What makes this path unlike a direct one, in words; [] for a good path."""
        if self.failure:
            return [f"not measured: {self.failure}"]
        found = []
        if self.gateway:
            found.append(f"routed through {self.gateway}, not on the server's subnet")
        elif self.same_subnet is False:
            found.append(f"{self.address} is not on the load host's subnet {self.subnet}")
        if self.load_mtu and self.server_mtu and self.load_mtu != self.server_mtu:
            found.append(f"MTU {self.load_mtu} on the load host, {self.server_mtu} on the server")
        if self.full_size_passed is False:
            found.append(
                f"a full-size packet ({self.load_mtu} bytes) did not cross: {self.full_size_msg}"
            )
        if self.sent and not self.rtt_ms:
            found.append(f"no echo answered of {self.sent} (ICMP blocked?)")
        elif self.sent and self.lost / self.sent > LOSS_LIMIT:
            found.append(f"{self.lost} of {self.sent} echoes lost")
        return found

    def to_json(self) -> dict:
        return {
            "server_host": self.server_host,
            "load_host": self.load_host,
            "file": self.file,
            "started": self.started,
            "address": self.address,
            "failure": self.failure,
            "route": {
                "interface": self.interface,
                "gateway": self.gateway,
                "subnet": self.subnet,
                "same_subnet": self.same_subnet,
            },
            "mtu": {"load": self.load_mtu, "server": self.server_mtu},
            "full_size_packet": {"passed": self.full_size_passed, "msg": self.full_size_msg},
            "round_trips": {
                "sent": self.sent,
                "answered": len(self.rtt_ms),
                "median_ms": self.rtt_median_ms,
                "p90_ms": self.rtt_p90_ms,
                "max_ms": self.rtt_max_ms,
            },
            "problems": self.problems(),
        }


def from_reading(reading: dict, server_host: str, file: str, server_mtu) -> NetworkPath:
    common = {
        "server_host": server_host,
        "load_host": reading["load_host"],
        "file": file,
        "server_mtu": server_mtu,
    }
    if reading.get("failed") or reading.get("unreachable"):
        return NetworkPath(**common, failure=reading.get("msg") or "the agent gave no reason")
    route = reading.get("route") or {}
    packet = reading.get("full_size_packet") or {}
    trips = reading.get("round_trips") or {}
    return NetworkPath(
        **common,
        started=reading.get("started"),
        address=reading.get("address"),
        interface=route.get("interface"),
        gateway=route.get("gateway"),
        subnet=route.get("subnet"),
        same_subnet=route.get("same_subnet"),
        load_mtu=route.get("mtu"),
        full_size_passed=packet.get("passed"),
        full_size_msg=packet.get("msg") or "",
        sent=trips.get("sent", 0),
        rtt_ms=[float(value) for value in trips.get("ms", [])],
    )


def read_paths(run_path: Path, meta: dict) -> tuple[list[NetworkPath], list[str]]:
    """Every reading under ``network/``, oldest first per pair, and the problems met reading
    them (a file that is not a reading is named, never fatal)."""
    servers = meta.get("servers") or {}
    problems: list[str] = []
    paths = [
        from_reading(reading, host, file, ((servers.get(host) or {}).get("nic") or {}).get("mtu"))
        for host, _name, file, reading in rawfiles.host_records(
            Path(run_path), FOLDER, READING, "a network reading", problems
        )
    ]
    paths.sort(key=lambda p: (p.server_host, p.load_host, p.started or 0.0))
    return paths, problems


def section(paths: list[NetworkPath]) -> list[str]:
    """report.md's "Network paths" section (above the tables); [] when none was measured."""
    if not paths:
        return []
    lines = [
        "## Network paths",
        "",
        "Measured from each load host before its server's cells (50 ICMP echoes 20 ms apart, "
        "and one packet of the interface's full MTU with fragmenting forbidden).",
        "",
        "| server | load host | route | MTU load / server | full-size packet | "
        "round trip ms: median (p90, max) | lost |",
        "|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        if path.failure:
            lines.append(
                f"| {path.server_host} | {path.load_host} | not measured: {path.failure} "
                "| – | – | – | – |"
            )
            continue
        route = f"via {path.gateway}" if path.gateway else f"{path.interface}, {path.subnet}"
        packet = {True: "crossed", False: "did not cross", None: "–"}[path.full_size_passed]
        trips = (
            f"{tables.milliseconds(path.rtt_median_ms)} ({tables.milliseconds(path.rtt_p90_ms)}, "
            f"{tables.milliseconds(path.rtt_max_ms)})"
        )
        lines.append(
            f"| {path.server_host} | {path.load_host} | {route} "
            f"| {path.load_mtu or '–'} / {path.server_mtu or '–'} | {packet} | {trips} "
            f"| {path.lost} of {path.sent} |"
        )
    warnings = [
        f"- **{path.load_host} → {path.server_host}**: {problem}"
        for path in paths
        for problem in path.problems()
    ]
    lines += ["", *warnings] if warnings else ["", "Every path is direct, alike at both ends."]
    return [*lines, ""]


def terminal_lines(paths: list[NetworkPath]) -> list[str]:
    """One line per pair for the terminal: its round trip, or what is wrong with it."""
    lines = []
    for path in paths:
        said = "; ".join(path.problems())
        if not path.failure:
            said = f"round trip {tables.milliseconds(path.rtt_median_ms)} ms median" + (
                f"; {said}" if said else ", direct path"
            )
        lines.append(f"network {path.load_host} → {path.server_host}: {said}")
    return lines

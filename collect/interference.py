"""What else used the hosts of a pair while a cell ran, and the flags it earns.

The agent reads each host's counters at both ends of a window (agent/interference.py): the
kernel's time counters of the CPUs the measured process may use, every NIC's packets, drops
and errors, and TCP's segments sent and retransmitted. Here two readings become shares and
counts (``between``), and a sample's hosts become flags (``flags``):

- ``STEAL``: a hypervisor gave a used CPU to another guest (a noisy cloud neighbour) for at
  least STEAL_SHARE of the window and more than the counters' rounding (STEAL_TICKS), on any
  host of the pair, in any repetition. Steal is not the client's work: it no longer counts
  towards the load host's busy share.
- ``RETRANSMITS``: TCP resent at least RETRANSMIT_SHARE of the segments a host sent. Each
  resend stalls a connection for a round trip at best, 200 ms (the minimum RTO) at worst.
- ``DROPS``: a host's NICs dropped or got wrong at least DROP_SHARE of their packets.

A flag says the number may be someone else's doing, not that it is wrong.
"""

from __future__ import annotations

from agent.interference import CPU_COLUMNS
from collect.model import Interference, Sample

# The column of stolen ticks in a CPU's CPU_COLUMNS.
STEAL = CPU_COLUMNS.index("steal")

# 1% of a CPU is a third of the smallest effect wirebench sets out to resolve (3%).
STEAL_SHARE = 0.01
# /proc/stat counts in ticks, each reading rounded: one tick of difference may be rounding
# alone, and one tick is already 1.3% of a 0.75 s run.
STEAL_TICKS = 2
# One segment in 10,000: a lossless bench network resends none.
RETRANSMIT_SHARE = 1e-4
DROP_SHARE = 1e-4

EXPLAINED = {
    "STEAL": f"a hypervisor gave a CPU the measurement used to another guest for at least "
    f"{STEAL_SHARE:.0%} of the time and {STEAL_TICKS} of the kernel's 10 ms ticks (less may be "
    "the counters' rounding), on the server or a load host, in at least one repetition (a "
    "noisy cloud neighbour): the rate is partly the neighbour's doing",
    "RETRANSMITS": f"TCP resent at least {RETRANSMIT_SHARE:.2%} of the segments a host of "
    "the pair sent, in at least one repetition: the network lost packets, and each loss "
    "stalls a connection",
    "DROPS": f"a host's NICs dropped or got wrong at least {DROP_SHARE:.2%} of their packets "
    "in at least one repetition: the network, not the server, lost them",
}


def cpu_ticks(before: dict, after: dict) -> dict[str, list[int]]:
    """{CPU: ticks spent in each CPU_COLUMNS column} between two readings.

    A CPU missing from either reading, not named by its number, with other than the eight
    columns, or without a tick between them, is left out.
    """
    found = {}
    common = [cpu for cpu in set(before) & set(after) if cpu.isdigit()]
    for cpu in sorted(common, key=int):
        if len(before[cpu]) != len(CPU_COLUMNS) or len(after[cpu]) != len(CPU_COLUMNS):
            continue
        spent = [max(a - b, 0) for a, b in zip(after[cpu], before[cpu])]
        if sum(spent) > 0:
            found[cpu] = spent
    return found


def nic_deltas(before: dict, after: dict) -> dict[str, dict[str, int]]:
    """{interface: {packets, dropped, errors}} between readings, both directions summed.

    An interface whose counters went backwards was recreated in between: its numbers say
    nothing about the window, so it is left out.
    """
    found = {}
    for name in sorted(set(before) & set(after)):
        delta = {key: after[name].get(key, 0) - before[name].get(key, 0) for key in after[name]}
        if any(value < 0 for value in delta.values()):
            continue
        found[name] = {
            what: delta.get(f"rx_{what}", 0) + delta.get(f"tx_{what}", 0)
            for what in ("packets", "dropped", "errors")
        }
    return found


def counter_delta(before: dict, after: dict, name: str):
    if name not in before or name not in after or after[name] < before[name]:
        return None
    return after[name] - before[name]


def between(before, after, window: str) -> Interference | None:
    """A host's interference over a window, from the agent's readings at its ends; None when
    either reading is missing (runs recorded before the counters existed)."""
    if not before or not after:
        return None
    seconds = None
    if before.get("uptime_s") is not None and after.get("uptime_s") is not None:
        seconds = round(after["uptime_s"] - before["uptime_s"], 2)
    tcp_before, tcp_after = before.get("tcp") or {}, after.get("tcp") or {}
    return Interference(
        window=window,
        seconds=seconds,
        cpu_ticks=cpu_ticks(before.get("cpus") or {}, after.get("cpus") or {}),
        nics=nic_deltas(before.get("nics") or {}, after.get("nics") or {}),
        tcp_sent=counter_delta(tcp_before, tcp_after, "OutSegs"),
        tcp_retransmitted=counter_delta(tcp_before, tcp_after, "RetransSegs"),
    )


def hosts_of(sample: Sample) -> dict[str, Interference]:
    """The interference of every host of the sample's pair that recorded it, by role/name."""
    found = {}
    if sample.server and sample.server.interference:
        found[f"server {sample.server_host or ''}".strip()] = sample.server.interference
    for name, run in sample.load_hosts.items():
        if run.interference:
            found[f"load {name}"] = run.interference
    return found


def retransmit_share(found: Interference) -> float | None:
    if not found.tcp_sent or found.tcp_retransmitted is None:
        return None
    return found.tcp_retransmitted / found.tcp_sent


def drop_share(found: Interference) -> float | None:
    return found.packets_lost / found.packets if found.packets else None


def stolen(found: Interference) -> bool:
    """Whether a CPU of the window lost STEAL_SHARE of its time to steal, beyond rounding."""
    return any(
        shares["steal"] >= STEAL_SHARE and found.cpu_ticks[cpu][STEAL] >= STEAL_TICKS
        for cpu, shares in found.cpus.items()
    )


def sample_flags(sample: Sample) -> list[str]:
    """The interference flags one sample earns, in the order EXPLAINED lists them."""
    flags = set()
    for found in hosts_of(sample).values():
        if stolen(found):
            flags.add("STEAL")
        if (retransmit_share(found) or 0.0) >= RETRANSMIT_SHARE:
            flags.add("RETRANSMITS")
        if (drop_share(found) or 0.0) >= DROP_SHARE:
            flags.add("DROPS")
    return [flag for flag in EXPLAINED if flag in flags]


def flags(samples: list[Sample]) -> list[str]:
    """The flags of a cell: those any of its repetitions earned (one noisy repetition moves
    a median little, but a reader should know it happened)."""
    found = {flag for sample in samples for flag in sample_flags(sample)}
    return [flag for flag in EXPLAINED if flag in found]


# The fields of summary(), as summary.csv names them (interference_<field>).
SUMMARY_FIELDS = ("steal", "softirq", "iowait", "tcp_retransmitted", "tcp_sent",
                  "packets_lost", "packets")  # fmt: skip


def summary(samples: list[Sample]) -> dict | None:
    """A cell's worst interference over its repetitions and hosts, for run.json and the
    report: peak steal, softirq and iowait shares of a used CPU, TCP segments resent and
    NIC packets lost (summed over repetitions and hosts). None when nothing recorded it."""
    recorded = [found for sample in samples for found in hosts_of(sample).values()]
    if not recorded:
        return None

    def peak(share):
        values = [found.peak(share) for found in recorded if found.peak(share) is not None]
        return max(values) if values else None

    retransmitted = [f.tcp_retransmitted for f in recorded if f.tcp_retransmitted is not None]
    return {
        "steal": peak("steal"),
        "softirq": peak("softirq"),
        "iowait": peak("iowait"),
        "tcp_retransmitted": sum(retransmitted) if retransmitted else None,
        "tcp_sent": sum(f.tcp_sent for f in recorded if f.tcp_sent is not None),
        "packets_lost": sum(found.packets_lost for found in recorded),
        "packets": sum(found.packets for found in recorded),
    }

"""What else took a host's CPUs or lost its packets: the counters read at each end of a window.

A reading holds, for the CPUs the measured process may use, the kernel's time counters
(steal: a hypervisor gave the CPU to another guest; softirq and irq: the kernel's network
work; iowait), and for the host's network namespace every NIC's packet, drop and error
counts and TCP's segments sent and retransmitted. Two readings, before and after, go into
the raw files as they are; collect turns them into shares and flags (collect/interference.py),
so what a share means is decided in one place.

Reading costs a few small /proc files at each end of the window, nothing during it.
"""

from __future__ import annotations

import os

PROC_STAT = "/proc/stat"
PROC_NET_DEV = "/proc/net/dev"
PROC_NET_SNMP = "/proc/net/snmp"
PROC_UPTIME = "/proc/uptime"
# Per-CPU columns of /proc/stat (proc(5)), in USER_HZ. guest and guest_nice, after these,
# are already counted in user and nice.
CPU_COLUMNS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
# /proc/net/dev's receive and transmit columns (after "name:"), and the ones kept.
NET_DEV_COLUMNS = ("bytes", "packets", "errs", "drop", "fifo", "frame_or_colls", "c", "m")
NIC_KEPT = {"packets": "packets", "errs": "errors", "drop": "dropped"}
TCP_KEPT = ("InSegs", "OutSegs", "RetransSegs", "InErrs")
LOOPBACK = "lo"


def cpu_times(text: str, cpus=None) -> dict:
    """{cpu id as text: [user, nice, system, idle, iowait, irq, softirq, steal]} from a
    /proc/stat text, for ``cpus`` (every CPU when None). Kernels older than 2.6.11 have
    fewer columns: the missing ones count as 0."""
    wanted = None if cpus is None else {int(cpu) for cpu in cpus}
    found = {}
    for line in text.splitlines():
        name, _, rest = line.partition(" ")
        if not name.startswith("cpu") or not name[3:].isdigit():
            continue  # the "cpu" line sums every CPU, not only the ones measured
        if wanted is not None and int(name[3:]) not in wanted:
            continue
        values = [int(field) for field in rest.split()[: len(CPU_COLUMNS)]]
        found[name[3:]] = values + [0] * (len(CPU_COLUMNS) - len(values))
    return found


def nic_counters(text: str) -> dict:
    """{interface: {rx_packets, rx_errors, rx_dropped, tx_…}} from a /proc/net/dev text,
    loopback left out (its traffic never crosses a NIC)."""
    found = {}
    for line in text.splitlines()[2:]:
        name, colon, rest = line.partition(":")
        name = name.strip()
        if not colon or not name or name == LOOPBACK:
            continue
        fields = [int(field) for field in rest.split()]
        if len(fields) < 2 * len(NET_DEV_COLUMNS):
            continue
        counts = {}
        for offset, direction in ((0, "rx"), (len(NET_DEV_COLUMNS), "tx")):
            for index, column in enumerate(NET_DEV_COLUMNS):
                if column in NIC_KEPT:
                    counts[f"{direction}_{NIC_KEPT[column]}"] = fields[offset + index]
        found[name] = counts
    return found


def tcp_counters(text: str) -> dict:
    """TCP's InSegs, OutSegs, RetransSegs and InErrs from a /proc/net/snmp text (its "Tcp:"
    header line names the columns of the line after it)."""
    lines = [line.split() for line in text.splitlines() if line.startswith("Tcp:")]
    if len(lines) < 2:
        return {}
    values = dict(zip(lines[0][1:], lines[1][1:]))
    return {name: int(values[name]) for name in TCP_KEPT if name in values}


def read_text(path: str):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def reading(cpus) -> dict:
    """One reading of this host's counters for ``cpus``; a file the host does not have
    leaves its part out (collect then says the counter was not recorded)."""
    found = {}
    uptime = read_text(PROC_UPTIME)
    if uptime:
        found["uptime_s"] = float(uptime.split()[0])
    stat = read_text(PROC_STAT)
    if stat is not None:
        found["cpus"] = cpu_times(stat, cpus)
    net_dev = read_text(PROC_NET_DEV)
    if net_dev is not None:
        found["nics"] = nic_counters(net_dev)
    snmp = read_text(PROC_NET_SNMP)
    if snmp is not None:
        found["tcp"] = tcp_counters(snmp)
    return found


def process_cpus(pid: int):
    """The CPUs a process (0: this one) may run on, or None when it is gone."""
    try:
        return sorted(os.sched_getaffinity(pid))
    except (OSError, AttributeError):  # gone, or PyPy without sched_getaffinity
        text = read_text(f"/proc/{pid or 'self'}/status") or ""
        for line in text.splitlines():
            if line.startswith("Cpus_allowed_list:"):
                return cpu_list(line.split(":", 1)[1])
        return None


def cpu_list(text: str) -> list:
    """The CPUs of a kernel CPU list such as ``0-2,5`` (cpuset(7))."""
    cpus = []
    for part in text.strip().split(","):
        first, _, last = part.partition("-")
        cpus += range(int(first), int(last or first) + 1)
    return sorted(cpus)

"""What a host looked like under a profile, for the run's metadata: every sysctl (what
``sysctl -a`` prints), the kernel command line, SMT, NUMA nodes and the NIC's, where the
NIC's queue IRQs may run, irqbalance, transparent hugepages, the CPUs' governors and turbo,
and the C-state latency limit wirebench holds.

A file this host does not have is recorded as absent (its value None, its path in
``absent``), never an error: a VM has no cpufreq, a container no IRQs to see.
"""

from __future__ import annotations

import os
import re
import stat

from . import cpufreq, irq, latency, nic, sysctl, thp
from . import cpus as cpu_lists
from .host import Host, TuningFailure, Unavailable
from .knobs import SWAP_DOTS_AND_SLASHES, parse

CPU = "sys/devices/system/cpu"
NODES = "sys/devices/system/node"
NODE = re.compile(r"node(\d+)")


class Reader:
    """Reads files under a host's root, noting the ones it does not have."""

    def __init__(self, host: Host):
        self.host = host
        self.absent = []

    def text(self, path: str):
        try:
            return self.host.read_text(path).strip()
        except Unavailable:
            self.absent.append(self.host.display(path))
            return None


def sysctls(host: Host):
    """({key: value} of every sysctl anyone may read, [keys withheld]), as ``sysctl -a`` run
    by a user other than root prints them. The ones only root may read are withheld by name:
    net.ipv4.tcp_fastopen_key is a secret, and results are shared. Write-only and unreadable
    files (net.ipv4.route.flush) are left out, as sysctl -a leaves them."""
    top = host.path(sysctl.PROC_SYS)
    found, withheld = {}, []
    for folder, _, files in os.walk(top):
        for name in files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, top).translate(SWAP_DOTS_AND_SLASHES)
            try:
                if not os.stat(path).st_mode & stat.S_IROTH:
                    withheld.append(key)
                    continue
                value = host.read(path)
            except OSError:
                continue
            found[key] = sysctl.normalise(value.rstrip("\n"))
    return dict(sorted(found.items())), sorted(withheld)


def smt(reader: Reader, online) -> dict:
    active = reader.text(f"{CPU}/smt/active")
    if active is not None:
        return {"active": active == "1", "control": reader.text(f"{CPU}/smt/control"),
                "from": "smt/active"}  # fmt: skip
    # Kernels before 4.19 have no smt/: a CPU with a sibling thread means SMT is on.
    siblings = [
        reader.text(f"{CPU}/cpu{cpu}/topology/thread_siblings_list") for cpu in sorted(online)
    ]
    known = [cpu_lists.parse_list(text) for text in siblings if text]
    if not known:
        return {"active": None, "from": None}
    return {"active": any(len(cpus) > 1 for cpus in known), "from": "thread_siblings_list"}


def numa(reader: Reader) -> dict:
    folder = reader.host.path(NODES)
    names = os.listdir(folder) if os.path.isdir(folder) else []
    nodes = sorted((name for name in names if NODE.fullmatch(name)), key=lambda n: int(n[4:]))
    if not nodes:
        reader.absent.append(reader.host.display(NODES))
    return {node: reader.text(f"{NODES}/{node}/cpulist") for node in nodes}


def governors(reader: Reader, online) -> dict:
    """{cpu: scaling governor}; a host without cpufreq (a VM) is one absent folder, not one
    absent file per CPU."""
    first = f"{CPU}/cpu{min(online)}/cpufreq" if online else f"{CPU}/cpu0/cpufreq"
    if not reader.host.exists(first):
        reader.absent.append(reader.host.display(first))
        return {}
    return {str(cpu): reader.text(cpufreq.governor.path(cpu)) for cpu in sorted(online)}


def interface_facts(host: Host, interface: str) -> dict:
    facts = {"interface": interface, "numa_node": nic.numa_node(host, interface)}
    try:
        facts["irqs"] = {
            str(number): cpu_lists.canonical_list(host.read_text(irq.affinity_path(number)))
            for number in nic.queue_irqs(host, interface)
        }
    except Unavailable as exc:
        facts["irqs"], facts["irqs_reason"] = None, str(exc)
    return facts


def held_latency(host: Host):
    try:
        return latency.read(host, parse({"kind": "cstate_latency", "value": 0}, "snapshot"))
    except (Unavailable, TuningFailure):
        return None


def thp_setting(reader: Reader, setting: str):
    text = reader.text(f"{thp.THP}/{setting}")
    try:
        return thp.chosen(text) if text is not None else None
    except TuningFailure:
        return text


def turbo(host: Host):
    try:
        return cpufreq.turbo.read(host, parse({"kind": "turbo", "value": "on"}, "snapshot"))
    except Unavailable:
        return None


def take(host: Host, interface=None) -> dict:
    reader = Reader(host)
    online_text = reader.text(f"{CPU}/online")
    online = cpu_lists.parse_list(online_text) if online_text else frozenset()
    found = {
        "cpus_online": online_text,
        "cmdline": reader.text("proc/cmdline"),
        "smt": smt(reader, online),
        "numa_nodes": numa(reader),
        "governors": governors(reader, online),
        "turbo": turbo(host),
        "thp": {setting: thp_setting(reader, setting) for setting in ("enabled", "defrag")},
        "irqbalance": irq.irqbalance_state(host),
        "cstate_latency_held_us": held_latency(host),
        "nic": interface_facts(host, interface) if interface else None,
    }
    found["sysctl"], found["sysctl_withheld"] = sysctls(host)
    return {"snapshot": found, "absent": reader.absent}

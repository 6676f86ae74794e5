"""A NIC's queue IRQs pinned to CPUs, through /proc/irq/N/smp_affinity_list, with irqbalance
stopped while they are (it would move them back). irqbalance is started again on restore
only when it was running before.

The state: {"irqs": {irq: CPU list}, "irqbalance": what systemctl is-active said ("unknown"
when there is no systemd to ask)}.
"""

from __future__ import annotations

from . import cpus as cpu_lists
from .host import Host, TuningFailure
from .knobs import Knob
from .latency import SYSTEMD_RUNNING
from .nic import queue_irqs

IRQBALANCE = "irqbalance"
RUNNING = ("active", "activating", "reloading")


def affinity_path(irq) -> str:
    return f"proc/irq/{irq}/smp_affinity_list"


def irqbalance_state(host: Host) -> str:
    if not host.exists(SYSTEMD_RUNNING):
        return "unknown"
    shown = host.run(["systemctl", "is-active", IRQBALANCE])
    return shown.stdout.strip() or "unknown"  # inactive, failed, active…: is-active says


def read(host: Host, knob: Knob) -> dict:
    irqs = {
        str(irq): cpu_lists.canonical_list(host.read_text(affinity_path(irq)))
        for irq in queue_irqs(host, knob.target)
    }
    return {"irqs": irqs, "irqbalance": irqbalance_state(host)}


def wanted(knob: Knob, before: dict) -> dict:
    balance = before["irqbalance"]
    return {
        "irqs": {irq: knob.value for irq in before["irqs"]},
        "irqbalance": "inactive" if balance in RUNNING else balance,
    }


def write(host: Host, knob: Knob, state: dict, before: dict) -> None:
    stopping = before["irqbalance"] in RUNNING and state["irqbalance"] not in RUNNING
    starting = state["irqbalance"] in RUNNING and before["irqbalance"] not in RUNNING
    if stopping:
        systemctl(host, "stop")
    for irq, cpus in state["irqs"].items():
        if before["irqs"].get(irq) != cpus:
            host.write_text(cpus, affinity_path(irq))
    if starting:  # after the IRQs are back where they were, so it starts from them
        systemctl(host, "start")


def systemctl(host: Host, action: str) -> None:
    done = host.run(["systemctl", action, IRQBALANCE])
    if done.returncode != 0:
        raise TuningFailure(f"systemctl {action} {IRQBALANCE}: {done.stderr.strip()}")

"""Which unit reads and writes each kind of knob.

Every unit has the same three calls, on the knob's state (what read returns: text, or a
mapping for the kinds that touch several files; always JSON):
    read(host, knob) -> state              Unavailable when the host cannot
    wanted(knob, before) -> state          what read should return once the knob is applied
    write(host, knob, state, before)       make it so (only what differs from ``before``)
Applying, verifying and restoring are these calls in an order (state.py), the same for every
kind.
"""

from __future__ import annotations

from . import cpufreq, ethtool, irq, latency, placement, steering, sysctl, thp

UNITS = {
    "sysctl": sysctl,
    "governor": cpufreq.governor,
    "epp": cpufreq.epp,
    "cstate_latency": latency,
    "turbo": cpufreq.turbo,
    "thp": thp,
    "irq_affinity": irq,
    "rps": steering.rps,
    "xps": steering.xps,
    "ethtool_coalesce": ethtool.coalesce,
    "ethtool_offload": ethtool.offload,
    "placement": placement,
}

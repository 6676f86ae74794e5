"""Receive and transmit packet steering: every queue's rps_cpus (rx-*) or xps_cpus (tx-*)
under /sys/class/net/IF/queues (Documentation/networking/scaling.rst).

The files hold hex masks; the state holds each queue's CPU list, and a mask is written in
the width and grouping the kernel printed, so a restored file reads back byte for byte.
Reading xps_cpus of a NIC with a single transmit queue fails with ENOENT on recent kernels:
that NIC's XPS is unavailable.
"""

from __future__ import annotations

import os

from . import cpus as cpu_lists
from .host import Host, Unavailable
from .knobs import Knob


class Steering:
    def __init__(self, prefix: str, name: str):
        self.prefix = prefix  # rx- or tx-
        self.name = name  # rps_cpus or xps_cpus

    def queues(self, host: Host, interface: str) -> list:
        folder = f"sys/class/net/{interface}/queues"
        if not host.exists(folder):
            raise Unavailable(f"there is no interface {interface} here (no {folder})")
        found = sorted(
            (entry for entry in os.listdir(host.path(folder)) if entry.startswith(self.prefix)),
            key=lambda entry: int(entry[len(self.prefix) :]),
        )
        present = [queue for queue in found if host.exists(folder, queue, self.name)]
        if not present:
            raise Unavailable(f"{interface} has no {self.prefix}*/{self.name}")
        return [f"{folder}/{queue}/{self.name}" for queue in present]

    def read(self, host: Host, knob: Knob) -> dict:
        return {
            path.split("/")[-2]: cpu_lists.format_list(cpu_lists.parse_mask(host.read_text(path)))
            for path in self.queues(host, knob.target)
        }

    def wanted(self, knob: Knob, before: dict) -> dict:
        return {queue: knob.value for queue in before}

    def write(self, host: Host, knob: Knob, state: dict, before: dict) -> None:
        folder = f"sys/class/net/{knob.target}/queues"
        for queue, cpus in state.items():
            if before.get(queue) == cpus:
                continue
            path = f"{folder}/{queue}/{self.name}"
            like = host.read_text(path)
            try:
                mask = cpu_lists.format_mask(cpu_lists.parse_list(cpus, allow_empty=True), like)
            except ValueError as exc:
                raise Unavailable(str(exc)) from None
            host.write_text(mask, path)


rps = Steering("rx-", "rps_cpus")
xps = Steering("tx-", "xps_cpus")

"""What belongs to a NIC: its queue IRQs, its NUMA node.

A NIC's queue IRQs are found, in this order, by
1. /proc/interrupts lines naming the interface (ixgbe's eth0-TxRx-0, i40e's i40e-eth0-TxRx-0,
   ena's ens5-Tx-Rx-0);
2. lines naming its device (virtio_net names its vectors virtio2-input.0 and virtio2-output.0
   after the virtio device that /sys/class/net/IF/device points to; virtio2-config is the
   device's control vector, not a queue);
3. the device's MSI vectors, /sys/class/net/IF/device/msi_irqs (or its parent's, for a
   virtio device on PCI), Documentation/ABI/testing/sysfs-bus-pci: mlx5 names its vectors
   after the PCI address only.
"""

from __future__ import annotations

import os
import re

from .host import Host, Unavailable

INTERRUPTS = "proc/interrupts"
CONTROL_VECTOR_SUFFIX = "-config"


def net_device(interface: str) -> str:
    return f"sys/class/net/{interface}/device"


def interrupt_names(text: str) -> dict:
    """{irq: the text after its counters} for the numbered lines of /proc/interrupts."""
    lines = text.splitlines()
    cpus = len(lines[0].split()) if lines else 0
    found = {}
    for line in lines[1:]:
        number, colon, rest = line.partition(":")
        if not colon or not number.strip().isdigit():
            continue  # NMI, LOC and the other per-CPU counters are not device IRQs
        found[int(number)] = " ".join(rest.split()[cpus:])
    return found


def names_interface(name: str, interface: str) -> bool:
    pattern = rf"(?<![A-Za-z0-9]){re.escape(interface)}(?![A-Za-z0-9])"
    return re.search(pattern, name) is not None


def device_name(host: Host, interface: str):
    """The basename of the device the interface sits on (virtio2), or None."""
    path = host.path(net_device(interface))
    if not os.path.exists(path):
        return None
    return os.path.basename(os.path.realpath(path))


def queue_irqs(host: Host, interface: str) -> list:
    if not host.exists("sys/class/net", interface):
        raise Unavailable(f"there is no interface {interface} here")
    names = interrupt_names(host.read_text(INTERRUPTS))
    found = [irq for irq, name in names.items() if names_interface(name, interface)]
    device = device_name(host, interface)
    if not found and device:
        found = [
            irq
            for irq, name in names.items()
            for word in name.split()
            if word.startswith(f"{device}-") and not word.endswith(CONTROL_VECTOR_SUFFIX)
        ]
    if not found:
        found = msi_irqs(host, interface)
    if not found:
        raise Unavailable(
            f"no IRQ of {interface} in /proc/interrupts or its device's msi_irqs "
            "(a virtual interface such as a veth has none)"
        )
    return sorted(set(found))


def msi_irqs(host: Host, interface: str) -> list:
    device = host.path(net_device(interface))
    for folder in (device, os.path.join(os.path.realpath(device), os.pardir)):
        listing = os.path.join(folder, "msi_irqs")
        if os.path.isdir(listing):
            return [int(entry) for entry in os.listdir(listing) if entry.isdigit()]
    return []


def numa_node(host: Host, interface: str):
    """The NIC's NUMA node as the kernel prints it (-1: none), or None when not recorded."""
    device = host.path(net_device(interface))
    for folder in (device, os.path.join(os.path.realpath(device), os.pardir)):
        path = os.path.join(folder, "numa_node")
        if os.path.isfile(path):
            return int(host.read(path).strip())
    return None

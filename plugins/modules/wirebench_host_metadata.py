#!/usr/bin/python
"""Record what a number depends on about a host: CPU, kernel, NIC, sysctls, governor."""

from __future__ import annotations

import glob
import json
import os
import platform
import subprocess

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: wirebench_host_metadata
short_description: Record a benchmark host's hardware and tuning in a JSON file
description:
  - Reads the CPU model and count, kernel, distribution, the NIC that carries the benchmark
    traffic (driver, speed, MTU), the sysctls that matter to a TCP benchmark and the CPU
    frequency governor, and writes them to O(dest) as JSON.
  - Only stable facts go in the file, so a second run on an unchanged host changes nothing.
options:
  bench_address:
    description:
      - On the server host, its address under test; on a load host, the server's address
        (the interface is then the one the route to it leaves through).
    type: str
    required: true
  role:
    description: What the host is in the benchmark.
    type: str
    choices: [server, load]
    required: true
  dest:
    description: Where to write the JSON document.
    type: path
    required: true
  extra:
    description: More facts to record under C(extra) (for example skipped combinations).
    type: dict
    default: {}
author: wirebench
"""

RETURN = r"""
metadata:
  description: The document written to O(dest).
  type: dict
  returned: always
"""

SYSCTLS = [
    "net.core.somaxconn",
    "net.core.netdev_max_backlog",
    "net.core.rmem_max",
    "net.core.wmem_max",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_congestion_control",
    "net.ipv4.tcp_max_syn_backlog",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.ipv4.tcp_low_latency",
    "kernel.sched_autogroup_enabled",
]


def read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def run_json(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return json.loads(out) if out.strip() else None


def cpu_model():
    for line in (read("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or None


def distribution():
    fields = {}
    for line in (read("/etc/os-release") or "").splitlines():
        key, _, value = line.partition("=")
        fields[key] = value.strip('"')
    return fields.get("PRETTY_NAME")


def interface_for(bench_address, role):
    """The interface that carries benchmark traffic on this host, and how we found it."""
    if role == "server":
        for link in run_json(["ip", "-j", "addr", "show"]) or []:
            for addr in link.get("addr_info", []):
                if addr.get("local") == bench_address:
                    return link["ifname"], None
        return None, f"no interface holds {bench_address}"
    routes = run_json(["ip", "-j", "route", "get", bench_address]) or []
    if not routes:
        return None, f"no route to {bench_address}"
    return routes[0].get("dev"), None


def nic(name):
    """Driver, speed and MTU of the interface, from netlink first.

    sysfs is read only when its entry is this network namespace's own interface (same
    ifindex): in a container, /sys/class/net may show the host's NIC of the same name.
    """
    if not name:
        return None
    link = (run_json(["ip", "-d", "-j", "link", "show", "dev", name]) or [{}])[0]
    base = f"/sys/class/net/{name}"
    sysfs_is_ours = read(os.path.join(base, "ifindex")) == str(link.get("ifindex"))
    driver = link.get("linkinfo", {}).get("info_kind")  # veth, bridge, vlan, ...
    driver_link = os.path.join(base, "device", "driver")
    if driver is None and sysfs_is_ours and os.path.exists(driver_link):
        driver = os.path.basename(os.path.realpath(driver_link))
    speed = read(os.path.join(base, "speed")) if sysfs_is_ours else None
    # Virtual NICs (veth) have no speed (the file errors or says -1): None, not a made-up one.
    speed_mbps = int(speed) if speed and speed.isdigit() and int(speed) > 0 else None
    return {
        "name": name,
        "driver": driver or "unknown",
        "speed_mbps": speed_mbps,
        "mtu": link.get("mtu"),
    }


def governors():
    found = sorted(
        {read(path) for path in glob.glob("/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor")}
        - {None}
    )
    return found or ["unavailable"]


def collect(bench_address, role, extra):
    interface, problem = interface_for(bench_address, role)
    virt = subprocess.run(["systemd-detect-virt"], capture_output=True, text=True).stdout.strip()
    return {
        "format": "wirebench-host/1",
        "hostname": platform.node(),
        "role": role,
        "bench_address": bench_address,
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_kib": int((read("/proc/meminfo") or "MemTotal: 0").split()[1]),
        "kernel": platform.release(),
        "distribution": distribution(),
        "virtualization": virt or "none",
        "nic": nic(interface),
        "nic_problem": problem,
        "sysctls": {name: read("/proc/sys/" + name.replace(".", "/")) for name in SYSCTLS},
        "cpu_governors": governors(),
        "extra": extra,
    }


def main():
    module = AnsibleModule(
        argument_spec={
            "bench_address": {"type": "str", "required": True},
            "role": {"type": "str", "required": True, "choices": ["server", "load"]},
            "dest": {"type": "path", "required": True},
            "extra": {"type": "dict", "default": {}},
        },
        supports_check_mode=True,
    )
    params = module.params
    metadata = collect(params["bench_address"], params["role"], params["extra"])
    text = json.dumps(metadata, indent=2, sort_keys=True) + "\n"
    changed = read(params["dest"]) != text.strip()
    if changed and not module.check_mode:
        os.makedirs(os.path.dirname(params["dest"]), exist_ok=True)
        temporary = params["dest"] + ".tmp"
        with open(temporary, "w") as handle:
            handle.write(text)
        os.replace(temporary, params["dest"])
    module.exit_json(changed=changed, metadata=metadata)


if __name__ == "__main__":
    main()

#!/usr/bin/python
"""Read a systemd unit's counters: MainPID, NRestarts, CPU seconds and peak memory."""

from __future__ import annotations

import os
import subprocess

DOCUMENTATION = r"""
---
module: wirebench_unit_counters
short_description: Read a benchmark unit's process counters
description:
  - C(MainPID), C(NRestarts) and C(ActiveState) from C(systemctl show), and the main
    process's CPU seconds (utime + stime) and peak resident memory from /proc. /proc works
    where cgroup accounting is not delegated (containers with cgroup v1), and on real
    hosts alike, so the numbers mean the same everywhere.
  - Changes nothing.
options:
  unit:
    description: The unit to read.
    type: str
    required: true
author: wirebench
"""

RETURN = r"""
counters:
  description: main_pid, n_restarts, active_state, cpu_seconds, max_rss_kib, read_at.
  type: dict
  returned: always
"""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def unit_properties(unit):
    out = subprocess.run(
        ["systemctl", "show", unit, "--property=MainPID,NRestarts,ActiveState,Result"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def process_counters(pid):
    """CPU seconds and peak RSS of a live process, or Nones if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as status:
            peak = next((line.split()[1] for line in status if line.startswith("VmHWM:")), None)
    except OSError:
        return None, None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(peak) if peak else None


def read_counters(unit):
    properties = unit_properties(unit)
    pid = int(properties.get("MainPID", "0") or 0)
    cpu, rss = process_counters(pid) if pid else (None, None)
    with open("/proc/uptime") as uptime:
        read_at = float(uptime.read().split()[0])
    return {
        "main_pid": pid,
        "n_restarts": int(properties.get("NRestarts", "0") or 0),
        "active_state": properties.get("ActiveState"),
        "result": properties.get("Result"),
        "cpu_seconds": cpu,
        "max_rss_kib": rss,
        "read_at": read_at,  # seconds since boot: the interval between two reads
    }


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={"unit": {"type": "str", "required": True}}, supports_check_mode=True
    )
    try:
        counters = read_counters(module.params["unit"])
    except (OSError, subprocess.CalledProcessError) as exc:
        module.fail_json(msg=f"cannot read {module.params['unit']}: {exc}")
    module.exit_json(changed=False, counters=counters)


if __name__ == "__main__":
    main()

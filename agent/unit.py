"""The server host's side of a cell: start its unit, later stop it, with the unit's counters
read at each end.

Counters are MainPID, NRestarts, ActiveState and Result from ``systemctl show``, and the main
process's CPU seconds (utime + stime) and peak resident memory from /proc. /proc works where
cgroup accounting is not delegated (containers on cgroup v1) and on real hosts alike, so the
numbers mean the same everywhere.
"""

from __future__ import annotations

import os
import subprocess
import time

from . import interference

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LISTEN_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TCP_LISTEN = "0A"  # the st column of /proc/net/tcp (include/net/tcp_states.h)
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.02


def systemctl(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False)


def unit_properties(unit: str) -> dict:
    out = systemctl("show", unit, "--property=MainPID,NRestarts,ActiveState,Result")
    if out.returncode != 0:
        raise OSError(f"systemctl show {unit}: {out.stderr.strip()}")
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def process_counters(pid: int):
    """CPU seconds and peak RSS of a live process, or Nones if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/status") as status:
            peak = next((line.split()[1] for line in status if line.startswith("VmHWM:")), None)
    except OSError:
        return None, None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, int(peak) if peak else None


def read_counters(unit: str) -> dict:
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
        # The unit's CPUs' steal, softirq and iowait and the host's NIC and TCP counters,
        # so collect can say what else took the server's CPUs or lost packets in the cell.
        "interference": interference.reading(interference.process_cpus(pid) if pid else None),
    }


def journal_since(unit: str, since: float, lines: int) -> str:
    out = subprocess.run(
        ["journalctl", "--unit", unit, "--since", f"@{since:.6f}", "--lines", str(lines),
         "--no-pager", "--output", "short-precise"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return (out.stdout or out.stderr).strip()


def listening_ports(tables=LISTEN_TABLES) -> set:
    """The TCP ports something listens on, from /proc/net/tcp and tcp6."""
    ports = set()
    for table in tables:
        try:
            with open(table) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == TCP_LISTEN:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def start(unit: str, port=None, journal_lines: int = 40, wait: float = WAIT_SECONDS) -> dict:
    """Clear a failed state left by an earlier cell, start the unit, wait until it listens on
    ``port`` (when given), read its counters.

    A unit that does not start, or exits before it listens, is the failure ``unit_failed``;
    one still starting after ``wait`` seconds is ``no_answer``. Either comes with the
    unit's journal lines since the start was asked for.
    """
    # A unit left failed by an earlier cell would keep its Result and restart count.
    systemctl("reset-failed", unit)
    asked = time.time()
    started = systemctl("start", unit)
    failure, message = None, None
    if started.returncode != 0:
        failure, message = "unit_failed", f"{unit} did not start: {started.stderr.strip()}"
    elif port is not None:
        failure, message = wait_until_listening(unit, int(port), wait)
    counters = read_counters(unit)
    if failure is None and counters["active_state"] not in ("active", "activating"):
        failure, message = "unit_failed", f"{unit} is {counters['active_state']} after its start"
    if failure:
        return {
            "failed": True,
            "failure": failure,
            "msg": message,
            "counters": counters,
            "journal": journal_since(unit, asked - 1, journal_lines),
        }
    return {"counters": counters}


def wait_until_listening(unit: str, port: int, wait: float):
    """(None, None) once ``port`` is listened on; else the failure kind and its message."""
    deadline = time.monotonic() + wait
    while port not in listening_ports():
        state = unit_properties(unit)
        if state.get("ActiveState") not in ("active", "activating", "reloading"):
            return "unit_failed", (
                f"{unit} exited before it listened on port {port}: "
                f"{state.get('ActiveState')} ({state.get('Result')})"
            )
        if time.monotonic() > deadline:
            return "no_answer", f"{unit} did not listen on port {port} within {wait:.0f}s"
        time.sleep(POLL_SECONDS)
    return None, None


def stop(unit: str) -> dict:
    """Read the counters first (they describe the process that was measured), then stop the
    unit and clear a failed state, so the next cell starts clean."""
    counters = read_counters(unit)
    stopped = systemctl("stop", unit)
    systemctl("reset-failed", unit)
    if stopped.returncode != 0:
        return {
            "failed": True,
            "msg": f"{unit} did not stop: {stopped.stderr.strip()}",
            "counters": counters,
        }
    return {"counters": counters}

"""The counters of what else used a host (agent/interference.py), parsed from real /proc files
captured on this machine (tests/agent/golden)."""

from __future__ import annotations

import os
from pathlib import Path

from agent import interference
from agent.interference import CPU_COLUMNS, cpu_times, nic_counters, tcp_counters

GOLDEN = Path(__file__).parent / "golden"


def test_cpu_times_keep_each_asked_cpus_eight_time_columns():
    text = (GOLDEN / "proc_stat_before").read_text()
    # cpu1 332562 0 125140 524228 8001 0 14925 1567 0 0: guest columns left out.
    assert cpu_times(text, [1]) == {"1": [332562, 0, 125140, 524228, 8001, 0, 14925, 1567]}
    everything = cpu_times(text)
    assert sorted(everything) == ["0", "1"]  # the summed "cpu" line is no CPU
    assert all(len(values) == len(CPU_COLUMNS) for values in everything.values())
    assert cpu_times(text, [5]) == {}


def test_cpu_times_of_an_old_kernel_count_the_missing_columns_as_zero():
    assert cpu_times("cpu0 10 0 5 100 1\n") == {"0": [10, 0, 5, 100, 1, 0, 0, 0]}


def test_nic_counters_name_every_interface_but_loopback():
    counters = nic_counters((GOLDEN / "proc_net_dev").read_text())
    assert "lo" not in counters
    # eth0: 663641411 22596 0 0 0 0 0 0 1623093 14718 0 0 0 0 0 0
    assert counters["eth0"] == {
        "rx_packets": 22596,
        "rx_errors": 0,
        "rx_dropped": 0,
        "tx_packets": 14718,
        "tx_errors": 0,
        "tx_dropped": 0,
    }
    assert set(counters) == {"eth0", "ifb0", "ifb1"}


def test_nic_counters_read_drops_and_errors_from_their_own_columns():
    text = (
        "Inter-|   Receive |  Transmit\n face |bytes packets errs drop ...\n"
        "  veth0: 100 10 1 2 0 0 0 0 200 20 3 4 0 0 0 0\n"
    )
    assert nic_counters(text)["veth0"] == {
        "rx_packets": 10,
        "rx_errors": 1,
        "rx_dropped": 2,
        "tx_packets": 20,
        "tx_errors": 3,
        "tx_dropped": 4,
    }


def test_tcp_counters_come_from_the_line_under_tcps_header():
    counters = tcp_counters((GOLDEN / "proc_net_snmp").read_text())
    header, values = [
        line.split()[1:]
        for line in (GOLDEN / "proc_net_snmp").read_text().splitlines()
        if line.startswith("Tcp:")
    ]
    expected = dict(zip(header, values))
    assert counters == {name: int(expected[name]) for name in interference.TCP_KEPT}
    assert tcp_counters("Ip: Forwarding\nIp: 1\n") == {}


def test_a_reading_of_this_host_has_every_part():
    cpus = sorted(os.sched_getaffinity(0))
    found = interference.reading(cpus)
    assert found["uptime_s"] > 0
    assert sorted(found["cpus"]) == [str(cpu) for cpu in cpus]
    assert isinstance(found["nics"], dict)
    assert found["tcp"]["OutSegs"] >= 0


def test_a_process_cpus_are_its_affinity_and_none_once_it_is_gone():
    assert interference.process_cpus(os.getpid()) == sorted(os.sched_getaffinity(0))
    with open("/proc/sys/kernel/pid_max") as handle:
        unused = int(handle.read())  # a PID the kernel never hands out
    assert interference.process_cpus(unused) is None


def test_a_cpu_list_names_every_cpu_in_its_ranges():
    assert interference.cpu_list("0-2,5\n") == [0, 1, 2, 5]
    assert interference.cpu_list("3") == [3]

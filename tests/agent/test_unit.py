"""The server host's side (agent/unit.py) that needs no systemd: which ports are listened on,
and a process's counters. Starting and stopping units is covered by the lab tests."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from agent.unit import listening_ports, process_counters

GOLDEN = Path(__file__).parent / "golden"
# Copies of this machine's /proc/net/tcp and tcp6 while a redis-server listened on
# 127.0.0.1:16380 and [::1]:16380 (each with a client connected from port 49644 and 41308),
# a socket on [::]:17001, and sshd-like on 0.0.0.0:2024; the rest are connections in other
# states (ESTABLISHED, TIME_WAIT) to and from other ports.
TCP = str(GOLDEN / "proc_net_tcp")
TCP6 = str(GOLDEN / "proc_net_tcp6")


def test_listening_ports_are_read_from_both_tables():
    assert listening_ports([TCP]) == {16380, 2024}
    assert listening_ports([TCP6]) == {16380, 17001}
    assert listening_ports([TCP, TCP6]) == {16380, 2024, 17001}


def test_a_connected_port_is_not_a_listening_one():
    ports = listening_ports([TCP, TCP6])
    assert 49644 not in ports and 41308 not in ports


def test_a_missing_table_is_no_port(tmp_path):
    # A host without IPv6 has no /proc/net/tcp6.
    assert listening_ports([str(tmp_path / "tcp6"), TCP]) == {16380, 2024}


def test_a_socket_listening_now_is_seen():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        assert listener.getsockname()[1] in listening_ports()


def test_a_live_process_has_cpu_seconds_and_peak_memory():
    cpu, peak_kib = process_counters(os.getpid())
    assert cpu > 0 and peak_kib > 0


def test_a_gone_process_has_no_counters():
    with open("/proc/sys/kernel/pid_max") as handle:
        beyond = int(handle.read())  # no PID reaches pid_max
    assert process_counters(beyond) == (None, None)

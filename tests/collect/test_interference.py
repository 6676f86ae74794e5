"""Interference counters (collect/interference.py): two readings of a host become shares and
counts, and a sample's hosts become the STEAL, RETRANSMITS and DROPS flags, both ways."""

from __future__ import annotations

import pytest

from agent.interference import cpu_times, nic_counters, tcp_counters
from collect import interference
from collect.interference import between, cpu_shares, flags, nic_deltas, sample_flags
from collect.model import OK, Cell, LoadHostRun, Sample, ServerCounters
from collect.model import TestResult as Rates
from tests.agent.test_interference import GOLDEN


def reading(cpus=None, nics=None, tcp=None, uptime=100.0):
    return {"uptime_s": uptime, "cpus": cpus or {}, "nics": nics or {}, "tcp": tcp or {}}


def test_real_proc_stat_readings_become_shares_of_each_cpus_time():
    before = cpu_times((GOLDEN / "proc_stat_before").read_text())
    after = cpu_times((GOLDEN / "proc_stat_after").read_text())
    shares = cpu_shares(before, after)
    # cpu0 went 352059 0 99000 535683 1612 0 17576 1622 -> 352112 0 99028 535699 1612 0
    # 17576 1622: 97 jiffies, none of them steal, softirq, irq or iowait.
    assert shares["0"] == {"steal": 0.0, "softirq": 0.0, "irq": 0.0, "iowait": 0.0}
    assert set(shares) == {"0", "1"}


def test_steal_softirq_and_iowait_are_shares_of_the_window():
    #         user nice system idle iowait irq softirq steal
    before = {"3": [100, 0, 50, 800, 10, 0, 20, 5]}
    after = {"3": [150, 0, 70, 804, 14, 2, 40, 25]}  # 120 jiffies in the window
    assert cpu_shares(before, after)["3"] == {
        "steal": pytest.approx(20 / 120, abs=1e-6),
        "softirq": pytest.approx(20 / 120, abs=1e-6),
        "irq": pytest.approx(2 / 120, abs=1e-6),
        "iowait": pytest.approx(4 / 120, abs=1e-6),
    }


def test_cpus_without_a_tick_or_of_the_wrong_shape_are_left_out():
    same = {"0": [1, 0, 1, 1, 0, 0, 0, 0]}
    assert cpu_shares(same, same) == {}
    assert cpu_shares({"0": [1, 2]}, {"0": [3, 4]}) == {}
    assert cpu_shares({"x": [0] * 8}, {"x": [1] * 8}) == {}


def test_real_net_dev_readings_become_per_interface_counts():
    counters = nic_counters((GOLDEN / "proc_net_dev").read_text())
    later = {name: {key: value + 2 for key, value in nic.items()} for name, nic in counters.items()}
    deltas = nic_deltas(counters, later)
    assert deltas["eth0"] == {"packets": 4, "dropped": 4, "errors": 4}


def test_an_interface_recreated_in_the_window_is_left_out():
    before = {"veth0": {"rx_packets": 900, "tx_packets": 800, "rx_dropped": 0}}
    after = {"veth0": {"rx_packets": 10, "tx_packets": 12, "rx_dropped": 0}}
    assert nic_deltas(before, after) == {}


def test_tcp_counters_give_segments_sent_and_resent():
    tcp = tcp_counters((GOLDEN / "proc_net_snmp").read_text())
    later = {**tcp, "OutSegs": tcp["OutSegs"] + 5000, "RetransSegs": tcp["RetransSegs"] + 3}
    found = between(reading(tcp=tcp), reading(tcp=later, uptime=101.5), "measured run")
    assert (found.tcp_sent, found.tcp_retransmitted) == (5000, 3)
    assert found.seconds == 1.5 and found.window == "measured run"


def test_no_reading_is_no_interference():
    assert between(None, reading(), "cell") is None
    assert between(reading(), {}, "cell") is None


def sample_with(load=None, server=None):
    load_run = LoadHostRun(interference=load)
    return Sample(
        cell=Cell("redis", "native", "get", 1),
        status=OK,
        server_host="server1",
        server=ServerCounters(interference=server),
        load_hosts={"load1": load_run},
        tests={"GET": Rates(rps=1000.0, hosts={"load1": {"rps": 1000.0}})},
    )


def quiet(window="measured run"):
    return between(
        reading({"0": [0] * 8}, {"eth0": {"rx_packets": 0, "tx_packets": 0}}, {"OutSegs": 0}),
        reading(
            {"0": [90, 0, 10, 0, 0, 0, 0, 0]},
            {"eth0": {"rx_packets": 50_000, "tx_packets": 50_000}},
            {"OutSegs": 50_000, "RetransSegs": 0},
        ),
        window,
    )


def noisy(steal=0, retransmitted=0, dropped=0):
    return between(
        reading(
            {"0": [0] * 8},
            {"eth0": {"rx_packets": 0, "tx_packets": 0, "rx_dropped": 0}},
            {"OutSegs": 0, "RetransSegs": 0},
        ),
        reading(
            {"0": [100 - steal, 0, 0, 0, 0, 0, 0, steal]},
            {"eth0": {"rx_packets": 50_000, "tx_packets": 50_000, "rx_dropped": dropped}},
            {"OutSegs": 50_000, "RetransSegs": retransmitted},
        ),
        "cell",
    )


def test_a_quiet_pair_earns_no_flag():
    assert sample_flags(sample_with(load=quiet(), server=quiet("cell"))) == []
    assert sample_flags(sample_with()) == []  # nothing recorded: nothing to say


@pytest.mark.parametrize(
    ("found", "flag"),
    [
        (noisy(steal=1), "STEAL"),  # 1% of the CPU's time: the threshold
        (noisy(retransmitted=5), "RETRANSMITS"),  # 1 in 10,000 segments sent
        (noisy(dropped=10), "DROPS"),  # 1 in 10,000 packets
    ],
)
def test_each_kind_of_interference_earns_its_flag_on_either_host(found, flag):
    assert sample_flags(sample_with(load=found, server=quiet("cell"))) == [flag]
    assert sample_flags(sample_with(load=quiet(), server=found)) == [flag]


def test_just_under_each_threshold_is_no_flag():
    found = noisy(steal=0, retransmitted=4, dropped=9)
    assert sample_flags(sample_with(load=found, server=found)) == []


def test_a_cell_carries_a_flag_any_repetition_earned():
    cells = [sample_with(load=quiet()), sample_with(load=noisy(steal=30, retransmitted=50))]
    assert flags(cells) == ["STEAL", "RETRANSMITS"]
    summary = interference.summary(cells)
    assert summary["steal"] == pytest.approx(0.30)
    assert summary["tcp_retransmitted"] == 50 and summary["tcp_sent"] == 100_000
    assert interference.summary([sample_with()]) is None

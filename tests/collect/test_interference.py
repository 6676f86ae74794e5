"""Interference counters (collect/interference.py): two readings of a host become shares and
counts, and a sample's hosts become the STEAL, RETRANSMITS and DROPS flags, both ways."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.interference import cpu_times, nic_counters, tcp_counters
from collect import interference, report
from collect.interference import (
    between,
    cpu_ticks,
    flags,
    nic_deltas,
    sample_flags,
)
from collect.model import OK, Cell, LoadHostRun, Sample, ServerCounters, cpu_shares
from collect.model import TestResult as Rates
from collect.rundir import load_run
from tests.agent.test_interference import GOLDEN


def reading(cpus=None, nics=None, tcp=None, uptime=100.0):
    return {"uptime_s": uptime, "cpus": cpus or {}, "nics": nics or {}, "tcp": tcp or {}}


def test_real_proc_stat_readings_become_shares_of_each_cpus_time():
    before = cpu_times((GOLDEN / "proc_stat_before").read_text())
    after = cpu_times((GOLDEN / "proc_stat_after").read_text())
    shares = cpu_shares(cpu_ticks(before, after))
    # cpu0 went 352059 0 99000 535683 1612 0 17576 1622 -> 352112 0 99028 535699 1612 0
    # 17576 1622: 97 jiffies, none of them steal, softirq, irq or iowait.
    assert shares["0"] == {"steal": 0.0, "softirq": 0.0, "irq": 0.0, "iowait": 0.0}
    assert set(shares) == {"0", "1"}


def test_steal_softirq_and_iowait_are_shares_of_the_window():
    #         user nice system idle iowait irq softirq steal
    before = {"3": [100, 0, 50, 800, 10, 0, 20, 5]}
    after = {"3": [150, 0, 70, 804, 14, 2, 40, 25]}  # 120 jiffies in the window
    assert cpu_shares(cpu_ticks(before, after))["3"] == {
        "steal": pytest.approx(20 / 120, abs=1e-6),
        "softirq": pytest.approx(20 / 120, abs=1e-6),
        "irq": pytest.approx(2 / 120, abs=1e-6),
        "iowait": pytest.approx(4 / 120, abs=1e-6),
    }


def test_cpus_without_a_tick_or_of_the_wrong_shape_are_left_out():
    same = {"0": [1, 0, 1, 1, 0, 0, 0, 0]}
    assert cpu_shares(cpu_ticks(same, same)) == {}
    assert cpu_shares(cpu_ticks({"0": [1, 2]}, {"0": [3, 4]})) == {}
    assert cpu_shares(cpu_ticks({"x": [0] * 8}, {"x": [1] * 8})) == {}


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
        (noisy(steal=2), "STEAL"),  # 2% of the CPU's time, 2 ticks
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


def test_steal_within_the_counters_rounding_is_no_flag():
    # One tick of a 100-tick window is 1%, but one tick may be the readings' rounding alone.
    assert interference.stolen(noisy(steal=1)) is False
    # 1% of a 10 s window is 10 ticks: a neighbour took that, whatever the rounding.
    long_window = between(
        reading({"0": [0] * 8}), reading({"0": [990, 0, 0, 0, 0, 0, 0, 10]}), "cell"
    )
    assert long_window.ticks == {"0": 1000} and interference.stolen(long_window) is True


def test_a_cell_carries_a_flag_any_repetition_earned():
    cells = [sample_with(load=quiet()), sample_with(load=noisy(steal=30, retransmitted=50))]
    assert flags(cells) == ["STEAL", "RETRANSMITS"]
    summary = interference.summary(cells)
    assert summary["steal"] == pytest.approx(0.30)
    assert summary["tcp_retransmitted"] == 50 and summary["tcp_sent"] == 100_000
    assert interference.summary([sample_with()]) is None


# The A/A run of presets/aa.yml on the lab, 20 rounds (tests/collect/runs/aa): real readings
# at both ends of every window, on both hosts.
AA = Path(__file__).parent / "runs" / "aa"


def aa_samples():
    return [sample for sample in load_run(AA).samples if sample.status == OK]


def test_every_real_sample_has_both_hosts_interference_over_its_own_window():
    samples = aa_samples()
    assert len(samples) == 80
    for sample in samples:
        load = sample.load_hosts["load1"]
        found = load.interference
        assert found.window == "measured run"
        assert list(found.cpus) == [str(cpu) for cpu in load.load_cpus]  # only its own CPUs
        # /proc/uptime has hundredths of a second: the window is the measured run's.
        assert abs(found.seconds - load.elapsed_s) <= 0.05
        assert found.tcp_sent > 0 and found.packets > 0 and found.tcp_retransmitted == 0
        server = sample.server.interference
        assert server.window == "cell" and len(server.cpus) == 1
        assert server.seconds >= found.seconds  # the cell holds the measured run
        for shares in (*found.cpus.values(), *server.cpus.values()):
            assert set(shares) == {"steal", "softirq", "irq", "iowait"}
            assert all(0.0 <= value <= 1.0 for value in shares.values())
            assert sum(shares.values()) <= 1.0


def stolen_ticks(before, after):
    """The most ticks a CPU lost to steal between two raw readings, and that CPU's ticks."""
    return max(
        (after["cpus"][cpu][7] - before["cpus"][cpu][7], sum(after["cpus"][cpu]) - sum(values))
        for cpu, values in before["cpus"].items()
    )


def test_the_lab_run_flags_steal_exactly_where_its_raw_counters_show_it(tmp_path):
    # Decided here from the raw readings alone: steal of at least 1% and 2 ticks.
    expected = set()
    for folder in (AA / "raw").iterdir():
        load = json.loads((folder / "load1" / "result.json").read_text())["interference"]
        server = json.loads((folder / "sample.json").read_text())["counters"]
        for before, after in (
            (load["before"], load["after"]),
            (server["before"]["interference"], server["after"]["interference"]),
        ):
            steal, total = stolen_ticks(before, after)
            if steal >= 2 and steal / total >= 0.01:
                cell = Cell.from_dir(folder.name)
                expected.add((cell.implementation, cell.workload))
    assert expected == {("redis-twin", "get-p16")}  # the noisy neighbour of round 19
    copy = Path(shutil.copytree(AA, tmp_path / "aa"))
    cells = report.report(copy, with_plots=False)[0].cells
    assert all(cell["interference"]["packets"] > 0 for cell in cells)
    flagged = {(c["implementation"], c["workload"]) for c in cells if "STEAL" in c["flags"]}
    assert flagged == expected
    assert not {"RETRANSMITS", "DROPS"} & {flag for c in cells for flag in c["flags"]}


def test_a_real_cell_with_stolen_cpu_and_resent_segments_is_flagged(tmp_path):
    path = Path(shutil.copytree(AA, tmp_path / "aa"))
    result = path / "raw" / "redis@native_get-p16_3" / "load1" / "result.json"
    document = json.loads(result.read_text())
    after = document["interference"]["after"]
    for values in after["cpus"].values():
        values[7] += 50  # steal: half a second of a CPU given to another guest
    after["tcp"]["RetransSegs"] += 100
    result.write_text(json.dumps(document))
    collected, _ = report.report(path, with_plots=False)
    flagged = {
        (c["implementation"], c["workload"]): c["flags"]
        for c in collected.cells
        if {"STEAL", "RETRANSMITS"} & set(c["flags"])
    }
    assert flagged == {
        ("redis", "get-p16"): ["STEAL", "RETRANSMITS"],
        ("redis-twin", "get-p16"): ["UNSTABLE", "STEAL"],  # as measured (round 19)
    }
    assert interference.EXPLAINED["STEAL"] in (path / "report.md").read_text()

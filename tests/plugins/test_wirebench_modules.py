"""The host-side modules, run on this machine (their lab behaviour: tests/lab)."""

from __future__ import annotations

import pytest
from wirebench_host_metadata import collect, nic
from wirebench_route_check import route_problem


def test_metadata_of_this_machine_has_every_field():
    metadata = collect("127.0.0.1", "load", {"note": 1})
    assert metadata["format"] == "wirebench-host/1"
    assert metadata["cpu_count"] >= metadata["cpus_usable"] >= 1
    with open("/sys/devices/system/cpu/online") as handle:
        assert metadata["cpus_online"] == handle.read().strip()
    assert metadata["cpus_online"][0].isdigit()  # a CPU list such as 0-3
    assert metadata["kernel"] and metadata["memory_kib"] > 0
    assert metadata["nic"]["name"] == "lo"
    assert metadata["nic"]["mtu"] > 0
    assert set(metadata["sysctls"]) >= {"net.core.somaxconn", "net.ipv4.tcp_congestion_control"}
    assert metadata["extra"] == {"note": 1}
    # Nothing in it changes between two reads: a second provision must report no change.
    assert collect("127.0.0.1", "load", {"note": 1}) == metadata


def test_server_without_the_address_says_so():
    metadata = collect("198.18.255.254", "server", {})
    assert metadata["nic"] is None
    assert metadata["nic_problem"] == "no interface holds 198.18.255.254"


def test_loopback_has_no_driver_or_speed():
    assert nic("lo")["driver"] == "unknown"
    assert nic("lo")["speed_mbps"] is None


@pytest.mark.parametrize(
    ("route", "bad"),
    [
        ({"dst": "198.18.0.10", "dev": "eth0", "prefsrc": "198.18.0.11"}, False),
        ({"type": "local", "dst": "198.18.0.10", "dev": "lo"}, True),
        ({"dst": "127.0.0.1", "dev": "lo", "flags": ["local"]}, True),
    ],
)
def test_loopback_routes_are_refused(route, bad):
    problem = route_problem(route, route["dst"])
    assert (problem is not None) == bad
    if bad:
        assert "goes through loopback" in problem

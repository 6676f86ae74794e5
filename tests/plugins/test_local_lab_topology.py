from __future__ import annotations

import pytest
import yaml
from local_lab import LabTopologyError, local_lab_topology

from .test_role_argument_specs import ROOT


def test_default_lab_is_a_server_and_one_load_host():
    server, load = local_lab_topology(1)
    assert server == {
        "name": "server1",
        "group": "bench_server",
        "address": "198.18.0.10",
        "cidr": "198.18.0.10/24",
        "cpu": "0",
        "netns": "wirebench-server1",
        "veth": "wb-server1",
    }
    assert (load["name"], load["group"], load["address"], load["cpu"]) == (
        "load1",
        "bench_load",
        "198.18.0.11",
        "1",
    )


def test_more_load_hosts_follow_and_take_cpus_in_turn():
    hosts = local_lab_topology(3, load_cpus=[1, 2])
    assert [(h["name"], h["address"], h["cpu"]) for h in hosts[1:]] == [
        ("load1", "198.18.0.11", "1"),
        ("load2", "198.18.0.12", "2"),
        ("load3", "198.18.0.13", "1"),
    ]


def test_committed_inventory_matches_the_default_topology():
    inventory = yaml.safe_load((ROOT / "inventory/lab/hosts.yml").read_text())
    described = {
        name: (group, spec["ansible_host"], str(spec["lab_cpu"]))
        for group, body in inventory.items()
        for name, spec in body.get("hosts", {}).items()  # "lab" only groups the others
    }
    computed = {h["name"]: (h["group"], h["address"], h["cpu"]) for h in local_lab_topology(1)}
    assert described == computed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"load_hosts": 0}, "at least one load host"),
        ({"load_hosts": 1, "load_cpus": []}, "load_cpus is empty"),
        ({"load_hosts": 1, "first_address": "10.0.0.1"}, "must lie in"),
        ({"load_hosts": 250}, "no address left"),
        ({"load_hosts": 1, "server_name": "a-very-long-server"}, "longer than 15"),
        ({"load_hosts": "x"}, "invalid literal"),
    ],
)
def test_bad_topologies_are_refused_with_a_reason(kwargs, message):
    with pytest.raises(LabTopologyError, match=message):
        local_lab_topology(**kwargs)


def test_more_server_hosts_come_after_the_load_hosts_and_each_gets_its_own():
    hosts = local_lab_topology(3, load_cpus=[1, 0], server_hosts=2, extra_server_cpus=[1])
    assert [(h["name"], h["group"], h["address"], h["cpu"], h["pair"]) for h in hosts] == [
        ("server1", "bench_server", "198.18.0.10", "0", "server1"),
        ("load1", "bench_load", "198.18.0.11", "1", "server1"),
        ("load2", "bench_load", "198.18.0.12", "0", "server2"),
        ("load3", "bench_load", "198.18.0.13", "1", "server1"),
        ("server2", "bench_server", "198.18.0.14", "1", "server2"),
    ]
    # One server host: no pairing to write.
    assert all("pair" not in host for host in local_lab_topology(2))


def test_each_server_host_needs_a_load_host_of_its_own():
    with pytest.raises(LabTopologyError, match="2 server hosts need at least as many load hosts"):
        local_lab_topology(1, server_hosts=2)

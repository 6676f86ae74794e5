"""The network module decides from `ip -j` output; a fake `ip` shows what it would run."""

from __future__ import annotations

import json

import pytest
from local_lab_network import (
    Network,
    NetworkError,
    converge_bridge,
    converge_host,
    prune,
    remove_all,
    veth_pair_intact,
)

BRIDGE = {
    "ifname": "wirebench0",
    "ifindex": 3,
    "flags": ["UP"],
    "linkinfo": {"info_kind": "bridge"},
    "addr_info": [{"family": "inet", "local": "198.18.0.1", "prefixlen": 24}],
}
OUTER = {
    "ifname": "wb-server1",
    "ifindex": 7,
    "link_index": 2,
    "flags": ["UP"],
    "master": "wirebench0",
    "linkinfo": {"info_kind": "veth"},
    "addr_info": [],
}
INNER = {
    "ifname": "eth0",
    "ifindex": 2,
    "link_index": 7,
    "flags": ["UP"],
    "linkinfo": {"info_kind": "veth"},
    "addr_info": [{"family": "inet", "local": "198.18.0.10", "prefixlen": 24}],
}
LO = {"ifname": "lo", "ifindex": 1, "flags": ["UP"], "addr_info": []}
NO_DIR = "/nonexistent/netns"  # the tests must not see this machine's namespaces
HOST = {"netns": "wirebench-server1", "veth": "wb-server1", "cidr": "198.18.0.10/24"}


class FakeIp:
    """Answers `ip` queries from a table: {(netns or None, ifname): link}; records the rest."""

    def __init__(self, links, namespaces=("wirebench-server1",)):
        self.links = links
        self.namespaces = list(namespaces)

    def __call__(self, argv):
        netns = argv[2] if argv[1] == "-n" else None
        if argv[-3:] == ["link", "show", "lo"]:
            return (0, "", "") if netns in self.namespaces else (1, "", "Cannot open netns")
        if argv[-3:-1] == ["show", "dev"]:
            link = self.links.get((netns, argv[-1]))
            return (0, json.dumps([link]), "") if link else (1, "", "does not exist")
        if argv[1:] == ["-j", "netns", "list"]:
            return 0, json.dumps([{"name": n} for n in self.namespaces]), ""
        if argv[1:] == ["-j", "-d", "link", "show"]:
            return 0, json.dumps([link for (ns, _), link in self.links.items() if ns is None]), ""
        return 0, "", ""  # a change: succeeds


def converge(links, namespaces=("wirebench-server1",)):
    net = Network(FakeIp(links, namespaces), netns_dir=NO_DIR)
    converge_bridge(net, "wirebench0", "198.18.0.1/24")
    converge_host(net, "wirebench0", HOST, "eth0")
    return [" ".join(argv) for argv in net.actions]


def complete():
    return {
        (None, "wirebench0"): BRIDGE,
        (None, "wb-server1"): OUTER,
        ("wirebench-server1", "eth0"): INNER,
        ("wirebench-server1", "lo"): LO,
    }


def test_a_complete_lab_network_needs_nothing():
    assert converge(complete()) == []


def test_an_empty_machine_gets_everything():
    actions = converge({}, namespaces=())
    assert actions == [
        "ip link add wirebench0 type bridge",
        "ip addr add 198.18.0.1/24 dev wirebench0",
        "ip link set wirebench0 up",
        "ip netns add wirebench-server1",
        "ip link add wb-server1 type veth peer name eth0 netns wirebench-server1",
        "ip link set wb-server1 master wirebench0",
        "ip link set wb-server1 up",
        "ip -n wirebench-server1 addr add 198.18.0.10/24 dev eth0",
        "ip -n wirebench-server1 link set eth0 up",
        "ip -n wirebench-server1 link set lo up",
    ]


def test_an_orphaned_veth_is_replaced():
    links = complete()
    del links[("wirebench-server1", "eth0")]  # the namespace was recreated: its end is gone
    actions = converge(links)
    assert actions[:2] == [
        "ip link del wb-server1",
        "ip link add wb-server1 type veth peer name eth0 netns wirebench-server1",
    ]


def test_a_bridge_without_its_address_gets_it():
    links = complete()
    links[(None, "wirebench0")] = {**BRIDGE, "addr_info": [], "flags": []}
    assert converge(links) == [
        "ip addr add 198.18.0.1/24 dev wirebench0",
        "ip link set wirebench0 up",
    ]


def test_a_name_clash_with_a_non_bridge_is_an_error():
    links = {(None, "wirebench0"): {**OUTER, "ifname": "wirebench0"}}
    with pytest.raises(NetworkError, match="not a bridge"):
        converge(links)


def test_veth_pairs_are_recognised_by_their_indexes():
    assert veth_pair_intact(OUTER, INNER)
    assert not veth_pair_intact(OUTER, {**INNER, "ifindex": 9})
    assert not veth_pair_intact(None, INNER)


def test_removal_takes_every_lab_namespace_veth_and_the_bridge():
    links = complete()
    links[(None, "wb-stray")] = {"ifname": "wb-stray"}
    links[(None, "eth0")] = {"ifname": "eth0"}
    net = Network(FakeIp(links, namespaces=("wirebench-server1", "other")), netns_dir=NO_DIR)
    remove_all(net, "wirebench0", "wirebench-", "wb-")
    actions = [" ".join(argv) for argv in net.actions]
    assert "ip netns delete wirebench-server1" in actions
    assert "ip link del wb-stray" in actions and "ip link del wb-server1" in actions
    assert actions[-1] == "ip link del wirebench0"
    assert not any("other" in a or a.endswith(" eth0") for a in actions)


def test_check_mode_runs_no_change():
    calls = []
    fake = FakeIp({}, namespaces=())

    def run(argv):
        calls.append(argv)
        return fake(argv)

    net = Network(run, check_mode=True, netns_dir=NO_DIR)
    converge_bridge(net, "wirebench0", "198.18.0.1/24")
    assert net.actions and all("add" not in argv and "set" not in argv for argv in calls)


def test_present_prunes_what_an_earlier_larger_lab_left():
    links = complete()
    links[(None, "wb-load2")] = {"ifname": "wb-load2"}
    net = Network(FakeIp(links, ("wirebench-server1", "wirebench-load2")), netns_dir=NO_DIR)
    prune(net, "wirebench-", "wb-", keep_netns={"wirebench-server1"}, keep_veths={"wb-server1"})
    assert [" ".join(a) for a in net.actions] == [
        "ip netns delete wirebench-load2",
        "ip link del wb-load2",
    ]

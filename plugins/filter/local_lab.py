"""Filters of the built-in lab: compute its hosts (names, addresses, CPUs, interface names)."""

from __future__ import annotations

import ipaddress

IFNAMSIZ = 15  # longest Linux interface name


class LabTopologyError(ValueError):
    pass


def local_lab_topology(
    load_hosts,
    *,
    server_name="server1",
    server_cpu=0,
    load_cpus=(1,),
    load_name="load",
    network="198.18.0.0/24",
    bridge_address="198.18.0.1",
    first_address="198.18.0.10",
    server_group="bench_server",
    load_group="bench_load",
    netns_prefix="wirebench-",
    veth_prefix="wb-",
    server_hosts=1,
    extra_server_cpus=(1,),
):
    """The lab's hosts: the server at `first_address`, then `load_hosts` load hosts after it,
    then the server hosts beyond the first (server2, ...) after those, so that adding hosts
    never moves the committed ones (server1 .10, load1 .11).

    Load hosts are named load1, load2, ... and take the CPUs of `load_cpus` in turn; server
    hosts beyond the first take those of `extra_server_cpus`. With several server hosts, each
    host has "pair": the server host it belongs to (load k drives server ((k - 1) mod S) + 1).
    """
    try:
        count = int(load_hosts)
        servers = int(server_hosts)
        net = ipaddress.ip_network(network)
        bridge = ipaddress.ip_address(bridge_address)
        first = ipaddress.ip_address(first_address)
    except ValueError as exc:
        raise LabTopologyError(f"local_lab: {exc}") from exc
    if count < 1:
        raise LabTopologyError(f"local_lab: need at least one load host, got {count}")
    if not load_cpus:
        raise LabTopologyError("local_lab: load_cpus is empty")
    if servers < 1:
        raise LabTopologyError(f"local_lab: need at least one server host, got {servers}")
    if servers > 1 and count < servers:
        raise LabTopologyError(
            f"local_lab: {servers} server hosts need at least as many load hosts (got {count}): "
            "each server host is driven by its own"
        )
    if servers > 1 and not extra_server_cpus:
        raise LabTopologyError("local_lab: extra_server_cpus is empty")
    if bridge not in net or first not in net:
        raise LabTopologyError(
            f"local_lab: {bridge_address} and {first_address} must lie in {network}"
        )
    server_names = [server_name] + [
        f"{server_name.rstrip('0123456789')}{index}" for index in range(2, servers + 1)
    ]
    names = (
        [(server_name, server_group, server_cpu, server_name)]
        + [
            (
                f"{load_name}{index}",
                load_group,
                load_cpus[(index - 1) % len(load_cpus)],
                server_names[(index - 1) % servers],
            )
            for index in range(1, count + 1)
        ]
        + [
            (name, server_group, extra_server_cpus[(index - 2) % len(extra_server_cpus)], name)
            for index, name in enumerate(server_names[1:], 2)
        ]
    )
    hosts = []
    for offset, (name, group, cpu, pair) in enumerate(names):
        address = first + offset
        if address not in net or address in (net.network_address, net.broadcast_address, bridge):
            raise LabTopologyError(f"local_lab: no address left in {network} for {name}")
        veth = f"{veth_prefix}{name}"
        if len(veth) > IFNAMSIZ:
            raise LabTopologyError(
                f"local_lab: interface name {veth!r} is longer than {IFNAMSIZ} characters"
            )
        hosts.append(
            {
                "name": name,
                "group": group,
                "address": str(address),
                "cidr": f"{address}/{net.prefixlen}",
                "cpu": str(cpu),
                "netns": f"{netns_prefix}{name}",
                "veth": veth,
                **({"pair": pair} if servers > 1 else {}),
            }
        )
    return hosts


class FilterModule:
    def filters(self):
        return {"local_lab_topology": local_lab_topology}

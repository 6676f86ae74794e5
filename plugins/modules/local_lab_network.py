#!/usr/bin/python
"""Converge the built-in lab's network: one bridge, one namespace and veth pair per host."""

from __future__ import annotations

import json
import os

DOCUMENTATION = r"""
---
module: local_lab_network
short_description: Bridge, network namespaces and veth pairs of the built-in lab
description:
  - Makes (or removes) a Linux bridge with an address on the controller, and for each lab host
    a named network namespace joined to the bridge by a veth pair whose inner end carries the
    host's address.
  - Converges whatever an earlier run left behind (stale namespace files, orphaned veths,
    missing addresses) and reports C(changed) only when it had to act.
  - With O(state=absent) it removes every namespace and veth whose name starts with
    O(netns_prefix) or O(veth_prefix), then the bridge. With O(state=present) it removes
    those that belong to no host in O(hosts) (a lab that had more hosts before).
options:
  state:
    description: Whether the lab network should exist.
    type: str
    choices: [present, absent]
    default: present
  bridge:
    description: Name of the bridge on the controller.
    type: str
    required: true
  bridge_address:
    description: Address of the bridge in CIDR form, e.g. V(198.18.0.1/24).
    type: str
  netns_prefix:
    description: Prefix of every lab namespace name (used to find leftovers).
    type: str
    required: true
  veth_prefix:
    description: Prefix of every controller-side veth name (used to find leftovers).
    type: str
    required: true
  inner_interface:
    description: Name of the veth end inside each namespace.
    type: str
    default: eth0
  hosts:
    description: Lab hosts, each with C(netns), C(veth) and C(cidr) (address/prefix).
    type: list
    elements: dict
    default: []
author: wirebench
"""

RETURN = r"""
actions:
  description: The ip commands run (or, in check mode, that would run).
  type: list
  elements: list
  returned: always
"""

IP = "ip"


class Network:
    """Reads the live state with `ip -j` and runs (or records) the commands that converge it."""

    def __init__(self, run, check_mode=False, netns_dir="/run/netns"):
        self._run = run  # run(argv) -> (rc, stdout, stderr)
        self.check_mode = check_mode
        self.netns_dir = netns_dir
        self.actions = []

    # -- observation -------------------------------------------------------------------------
    def _json(self, argv):
        rc, out, _err = self._run(argv)
        if rc != 0 or not out.strip():
            return None
        return json.loads(out)

    def link(self, name, netns=None):
        prefix = [IP, "-n", netns] if netns else [IP]
        links = self._json([*prefix, "-j", "-d", "addr", "show", "dev", name])
        return links[0] if links else None

    def links(self):
        return self._json([IP, "-j", "-d", "link", "show"]) or []

    def netns_names(self):
        """Namespaces `ip netns` knows, and files left in its directory (maybe stale)."""
        names = {entry["name"] for entry in self._json([IP, "-j", "netns", "list"]) or []}
        if os.path.isdir(self.netns_dir):
            names.update(os.listdir(self.netns_dir))
        return sorted(names)

    def netns_usable(self, netns):
        rc, _out, _err = self._run([IP, "-n", netns, "link", "show", "lo"])
        return rc == 0

    # -- action ------------------------------------------------------------------------------
    def act(self, argv, tolerate_failure=False):
        self.actions.append(argv)
        if self.check_mode:
            return
        rc, out, err = self._run(argv)
        if rc != 0 and not tolerate_failure:
            raise NetworkError(f"{' '.join(argv)} failed (rc={rc}): {(err or out).strip()}")


class NetworkError(Exception):
    pass


def addresses(link):
    """The CIDR addresses of family inet on a link as returned by `ip -j addr show`."""
    return {
        f"{info['local']}/{info['prefixlen']}"
        for info in (link or {}).get("addr_info", [])
        if info.get("family") == "inet"
    }


def is_up(link):
    return "UP" in (link or {}).get("flags", [])


def veth_pair_intact(outer, inner):
    """True when `outer` (controller side) and `inner` (inside the namespace) are peers."""
    if not outer or not inner:
        return False
    if (outer.get("linkinfo") or {}).get("info_kind") != "veth":
        return False
    return outer.get("link_index") == inner.get("ifindex") and inner.get("link_index") == outer.get(
        "ifindex"
    )


def converge_bridge(net, bridge, address):
    link = net.link(bridge)
    if link and (link.get("linkinfo") or {}).get("info_kind") != "bridge":
        raise NetworkError(f"{bridge} exists and is not a bridge; remove it or pick another name")
    if not link:
        net.act([IP, "link", "add", bridge, "type", "bridge"])
    if address not in addresses(link):
        net.act([IP, "addr", "add", address, "dev", bridge])
    if not is_up(link):
        net.act([IP, "link", "set", bridge, "up"])


def converge_host(net, bridge, host, inner_name):
    netns, veth, address = host["netns"], host["veth"], host["cidr"]
    fresh_netns = False
    if not net.netns_usable(netns):
        if netns in net.netns_names():
            # A namespace file whose namespace is gone (e.g. /run survived a reboot).
            net.act([IP, "netns", "delete", netns], tolerate_failure=True)
        net.act([IP, "netns", "add", netns])
        fresh_netns = True
    outer = net.link(veth)
    inner = None if fresh_netns else net.link(inner_name, netns=netns)
    if not veth_pair_intact(outer, inner):
        if outer:
            net.act([IP, "link", "del", veth])
        if inner:
            net.act([IP, "-n", netns, "link", "del", inner_name])
        net.act(
            [IP, "link", "add", veth, "type", "veth", "peer", "name", inner_name, "netns", netns]
        )
        outer = inner = None
    if (outer or {}).get("master") != bridge:
        net.act([IP, "link", "set", veth, "master", bridge])
    if not is_up(outer):
        net.act([IP, "link", "set", veth, "up"])
    if address not in addresses(inner):
        net.act([IP, "-n", netns, "addr", "add", address, "dev", inner_name])
    if not is_up(inner):
        net.act([IP, "-n", netns, "link", "set", inner_name, "up"])
    lo = None if fresh_netns else net.link("lo", netns=netns)
    if not is_up(lo):
        net.act([IP, "-n", netns, "link", "set", "lo", "up"])


def prune(net, netns_prefix, veth_prefix, keep_netns=(), keep_veths=()):
    """Remove the lab namespaces and veths that are not kept."""
    for netns in net.netns_names():
        if netns.startswith(netns_prefix) and netns not in keep_netns:
            net.act([IP, "netns", "delete", netns], tolerate_failure=True)
    for link in net.links():
        name = link.get("ifname", "")
        if name.startswith(veth_prefix) and name not in keep_veths:
            net.act([IP, "link", "del", name], tolerate_failure=True)


def remove_all(net, bridge, netns_prefix, veth_prefix):
    prune(net, netns_prefix, veth_prefix)
    if net.link(bridge):
        net.act([IP, "link", "del", bridge])


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "bridge": {"type": "str", "required": True},
            "bridge_address": {"type": "str"},
            "netns_prefix": {"type": "str", "required": True},
            "veth_prefix": {"type": "str", "required": True},
            "inner_interface": {"type": "str", "default": "eth0"},
            "hosts": {"type": "list", "elements": "dict", "default": []},
        },
        required_if=[("state", "present", ["bridge_address"])],
        supports_check_mode=True,
    )
    p = module.params
    if os.geteuid() != 0:
        module.fail_json(msg="the lab network needs root (run lab-up as root)")
    if not os.path.exists("/proc/self/ns/net"):
        module.fail_json(msg="this kernel has no network namespaces (/proc/self/ns/net missing)")

    def run(argv):
        return module.run_command(argv)

    net = Network(run, check_mode=module.check_mode)
    try:
        if p["state"] == "present":
            converge_bridge(net, p["bridge"], p["bridge_address"])
            for host in p["hosts"]:
                for key in ("netns", "veth", "cidr"):
                    if not host.get(key):
                        module.fail_json(msg=f"host entry {host!r} lacks {key}")
                if not host["netns"].startswith(p["netns_prefix"]) or not host["veth"].startswith(
                    p["veth_prefix"]
                ):
                    module.fail_json(msg=f"host entry {host!r} does not use the lab prefixes")
                converge_host(net, p["bridge"], host, p["inner_interface"])
            prune(
                net,
                p["netns_prefix"],
                p["veth_prefix"],
                keep_netns={host["netns"] for host in p["hosts"]},
                keep_veths={host["veth"] for host in p["hosts"]},
            )
        else:
            remove_all(net, p["bridge"], p["netns_prefix"], p["veth_prefix"])
    except NetworkError as exc:
        module.fail_json(msg=str(exc), actions=net.actions)
    module.exit_json(changed=bool(net.actions), actions=net.actions)


if __name__ == "__main__":
    main()

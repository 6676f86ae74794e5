#!/usr/bin/python
"""From a load host: does the server's bench address answer over a real network route?"""

from __future__ import annotations

import json
import socket
import subprocess

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: wirebench_route_check
short_description: Check that a host reaches an address over the network, not loopback
description:
  - Asks the kernel which route the host would take to O(address) (C(ip route get)) and
    fails if it is loopback or local (the server and load host would then be one machine).
  - Then opens a TCP connection to O(address):O(port) to prove the path carries traffic.
  - Changes nothing; safe in check mode.
options:
  address:
    description: The server's bench address.
    type: str
    required: true
  port:
    description: A TCP port that listens on the server (sshd before provisioning).
    type: int
    default: 22
  timeout:
    description: Seconds to wait for the TCP connection.
    type: float
    default: 5
author: wirebench
"""

RETURN = r"""
route:
  description: What C(ip -j route get) answered for the address.
  type: dict
  returned: when a route exists
"""


def route_problem(route, address):
    """Why this route is not a network path to the address, or None if it is."""
    if (
        route.get("dev") == "lo"
        or route.get("type") == "local"
        or "local" in route.get("flags", [])
    ):
        return (
            f"the route to {address} goes through loopback (dev {route.get('dev')}): it is an "
            "address of this host, so the load would never cross a network"
        )
    return None


def main():
    module = AnsibleModule(
        argument_spec={
            "address": {"type": "str", "required": True},
            "port": {"type": "int", "default": 22},
            "timeout": {"type": "float", "default": 5.0},
        },
        supports_check_mode=True,
    )
    address = module.params["address"]
    result = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True)
    if result.returncode != 0:
        module.fail_json(msg=f"no route to {address}: {result.stderr.strip()}")
    route = json.loads(result.stdout)[0]
    problem = route_problem(route, address)
    if problem:
        module.fail_json(msg=problem, route=route)
    port = module.params["port"]
    try:
        with socket.create_connection((address, port), timeout=module.params["timeout"]):
            pass
    except OSError as exc:
        module.fail_json(
            msg=f"{address}:{port} does not answer from this host over {route.get('dev')}: {exc}",
            route=route,
        )
    module.exit_json(changed=False, route=route)


if __name__ == "__main__":
    main()

"""The network path from a load host to the server's bench address, measured before the
cells: the route the kernel takes (same subnet or through a gateway), the interface's MTU,
whether a packet of that full size crosses unfragmented, and round trips (ICMP echo).

A comparison of two VM types is only about the VMs when the paths are alike: a load host
that reaches its server through a router, a smaller MTU somewhere on the way or a round trip
ten times the other pair's changes every number measured after it. The raw readings are
returned; collect computes the statistics (collect/network.py).

Runs on the load host's system Python (3.9 or newer); standard library only. Every command
is an argument list with a time limit, so a host that drops ICMP costs seconds, not a run.
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import time

IP = "ip"
PING = "ping"
# 50 echoes 20 ms apart: one second of traffic, enough for a median and a p90 of the round
# trip; an interval under 0.2 s needs root, which the agent has.
ECHOES = 50
INTERVAL_S = 0.02
REPLY_WAIT_S = 1
# IPv4 header (20) and ICMP header (8): the payload that makes a packet of exactly the MTU.
ICMP_OVERHEAD = 28
COMMAND_MARGIN_S = 5.0
ECHO_TIME = re.compile(r"icmp_seq=(\d+) .*?time=([0-9.]+) ms")
# ping's summary; with a deadline (-w) it goes on sending past -c while echoes are missing.
TRANSMITTED = re.compile(r"^(\d+) packets transmitted", re.MULTILINE)


class NetworkError(Exception):
    """A reading that could not be taken (the message names it)."""


def is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def run(argv: list, timeout: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise NetworkError(f"{argv[0]} is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise NetworkError(f"{' '.join(argv)} did not end within {timeout:.0f} s") from None


def ip_json(args: list, runner=run):
    done = runner([IP, "-j", *args], COMMAND_MARGIN_S)
    if done.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    try:
        return json.loads(done.stdout)
    except ValueError:
        raise NetworkError(f"ip {' '.join(args)} printed no JSON") from None


def route_to(address: str, runner=run) -> dict:
    """The route to ``address``: interface, source address, gateway (None when the address
    is on a directly attached subnet), that subnet, and the interface's MTU."""
    route = (ip_json(["route", "get", address], runner) or [{}])[0]
    dev, source, gateway = route.get("dev"), route.get("prefsrc"), route.get("gateway")
    if not dev:
        raise NetworkError(f"no route to {address}")
    link = (ip_json(["link", "show", "dev", dev], runner) or [{}])[0]
    subnet = None
    for entry in (ip_json(["addr", "show", "dev", dev], runner) or [{}])[0].get("addr_info", []):
        if entry.get("local") == source and "prefixlen" in entry:
            subnet = str(ipaddress.ip_interface(f"{source}/{entry['prefixlen']}").network)
    return {
        "interface": dev,
        "source": source,
        "gateway": gateway,
        "subnet": subnet,
        "same_subnet": (
            gateway is None
            and subnet is not None
            and ipaddress.ip_address(address) in ipaddress.ip_network(subnet)
        ),
        "mtu": link.get("mtu"),
    }


def echo_times(stdout: str) -> list:
    """Round trips in ms, in sequence order, from ping's per-reply lines (duplicates once)."""
    seen: dict = {}
    for line in stdout.splitlines():
        match = ECHO_TIME.search(line)
        if match:
            seen.setdefault(int(match.group(1)), float(match.group(2)))
    return [seen[sequence] for sequence in sorted(seen)]


def round_trips(address: str, echoes: int = ECHOES, runner=run) -> dict:
    deadline = int(echoes * INTERVAL_S + REPLY_WAIT_S) + 1
    argv = [PING, "-n", "-c", str(echoes), "-i", str(INTERVAL_S), "-W", str(REPLY_WAIT_S),
            "-w", str(deadline), address]  # fmt: skip
    done = runner(argv, deadline + COMMAND_MARGIN_S)
    times = echo_times(done.stdout)
    if not times and done.returncode not in (0, 1):
        raise NetworkError(f"ping {address}: {(done.stderr or done.stdout).strip() or 'failed'}")
    sent = TRANSMITTED.search(done.stdout)
    return {"sent": int(sent.group(1)) if sent else echoes, "ms": times}


def full_size_packet(address: str, mtu, runner=run) -> dict:
    """Does one echo of exactly the interface's MTU, fragmenting forbidden, come back?"""
    if not isinstance(mtu, int) or mtu <= ICMP_OVERHEAD:
        return {"size": mtu, "passed": None, "msg": "the interface's MTU is unknown"}
    argv = [PING, "-n", "-c", "1", "-M", "do", "-s", str(mtu - ICMP_OVERHEAD),
            "-W", str(REPLY_WAIT_S), address]  # fmt: skip
    done = runner(argv, REPLY_WAIT_S + COMMAND_MARGIN_S)
    passed = bool(echo_times(done.stdout))
    return {"size": mtu, "passed": passed, "msg": "" if passed else why_no_echo(done)}


def why_no_echo(done: subprocess.CompletedProcess) -> str:
    """ping's own error ("ping: local error: message too long, mtu=1500"), else its summary."""
    lines = [line.strip() for line in (done.stderr + "\n" + done.stdout).splitlines()]
    errors = [line for line in lines if line.startswith("ping:")]
    summary = [line for line in lines if TRANSMITTED.match(line)]
    return (errors or summary or ["no echo came back"])[0]


def baseline(address: str, echoes: int = ECHOES, runner=run) -> dict:
    started = time.time()
    route = route_to(address, runner)
    return {
        "address": address,
        "started": started,
        "route": route,
        "full_size_packet": full_size_packet(address, route["mtu"], runner),
        "round_trips": round_trips(address, echoes, runner),
    }
